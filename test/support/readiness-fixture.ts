// Signed records of one capture session (a device chain and a store's receipts), built in memory
// with the real record builder and signer, with one knob per thing that can go wrong. Writes them
// out as a spool, a store or a bundle so readiness can be read from each.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ChainState,
  buildRecord,
  chunkFileName,
  chunkSubject,
  decodeRecord,
  generateKeyPair,
  keySubject,
  nodeSigner,
  previousRecordSubject,
  receiptSubject,
  recordFileName,
  serializeEnvelope,
  sessionGaps,
  sessionSubject,
  type CaptureChunkPredicate,
  type DecodedRecord,
  type PredicateBody,
  type PredicateName,
  type ResourceDescriptor,
  type SessionGap,
} from '../../agent/records/index.ts';

export interface FixtureOptions {
  /** The clock was unsynced for the whole session. */
  unsynced?: boolean;
  /** The rear camera has no calibration. */
  noRearCalibration?: boolean;
  /** De-id failed on 3 rear frames in chunk 2 (dropped, counted deid_failed). */
  deidFailure?: boolean;
  /** Chunk 2 has no custody receipt. */
  missingReceipt?: boolean;
  /** 50 front frames dropped (queue_full) in chunk 2. */
  drops?: boolean;
  /** Chunk 2's record is missing from the chain (the close still counts it). */
  chainGap?: boolean;
  /** Policy owner left empty. */
  noOwner?: boolean;
}

export const fixtureSessionId = 'S20261203T120000Z-a1b2';
const deviceId = 'rig-fixture';
const storeId = 'store-fixture';
const t0 = 1_764_763_200_000_000_000n; // 2025-12-03T12:00:00Z
const chunkNs = 60_000_000_000n;

class Chain {
  readonly records: DecodedRecord[] = [];
  readonly #state = new ChainState(null);
  readonly #signer;
  readonly #id: string;
  readonly keyPair = generateKeyPair();
  #wallNs = t0;

  constructor(id: string) {
    this.#id = id;
    this.#signer = nodeSigner(this.keyPair.privateKeyPem);
    this.add(
      'device-key',
      { action: 'enrol', keyId: this.keyPair.keyId, publicKey: this.keyPair.publicKeyPem },
      keySubject(this.keyPair.keyId),
    );
  }

  add<N extends PredicateName>(
    name: N,
    body: PredicateBody<N>,
    subject?: ResourceDescriptor[],
    wallNs?: bigint,
  ): DecodedRecord {
    const link = this.#state.next();
    this.#wallNs = wallNs ?? this.#wallNs + 1_000_000n;
    const rec = buildRecord({
      name,
      body,
      subject: subject ?? previousRecordSubject(link),
      link,
      context: { signerId: this.#id, bootId: 'boot-1', monoNs: this.#wallNs - t0, wallNs: this.#wallNs },
      signer: this.#signer,
    });
    const decoded = decodeRecord(serializeEnvelope(rec.envelope));
    if (!decoded.ok) throw new Error(decoded.reason);
    this.#state.advance({ seq: link.seq, payloadSha256: decoded.record.payloadSha256 });
    this.records.push(decoded.record);
    return decoded.record;
  }
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function chunkBody(o: FixtureOptions, index: number): Omit<CaptureChunkPredicate, 'chain'> {
  const startNs = t0 + BigInt(index - 1) * chunkNs;
  const endNs = startNs + chunkNs;
  const second = index === 2;
  const calibration = [
    { sensor: 'cam_front', digest: sha('front'), version: 1 },
    { sensor: 'cam_rear', digest: sha('rear'), version: 1 },
    { sensor: 'lidar', digest: sha('lidar'), version: 1 },
    { sensor: 'imu', digest: sha('imu'), version: 1 },
  ].filter((c) => !(o.noRearCalibration === true && c.sensor === 'cam_rear'));
  const failed = o.deidFailure === true && second ? 3 : 0;
  return {
    sessionId: fixtureSessionId,
    chunkIndex: index,
    startNs: String(startNs),
    endNs: String(endNs),
    bytes: String(50 * 1024 * 1024),
    streams: [
      {
        topic: '/camera/front/image/compressed',
        type: 'sensor_msgs/msg/CompressedImage',
        count: 600,
        drops: o.drops === true && second ? { queue_full: 50 } : {},
        upstreamLoss: 0,
      },
      {
        topic: '/camera/rear/image/compressed',
        type: 'sensor_msgs/msg/CompressedImage',
        count: 600 - failed,
        drops: failed > 0 ? { deid_failed: failed } : {},
        upstreamLoss: 0,
      },
      {
        topic: '/camera/front/camera_info',
        type: 'sensor_msgs/msg/CameraInfo',
        count: 1,
        drops: {},
        upstreamLoss: 0,
      },
      { topic: '/lidar/points', type: 'sensor_msgs/msg/PointCloud2', count: 600, drops: {}, upstreamLoss: 0 },
      { topic: '/imu/data', type: 'sensor_msgs/msg/Imu', count: 12000, drops: {}, upstreamLoss: 0 },
    ],
    timesync: {
      source: 'chrony',
      startNs: String(startNs),
      endNs: String(endNs),
      intervals: [
        {
          state: o.unsynced === true ? 'unsynced' : 'locked',
          startNs: String(startNs),
          endNs: String(endNs),
        },
      ],
      offsetNs: null,
      dispersionNs: null,
      samples: 60,
      steps: [],
      stateAtEnd: o.unsynced === true ? 'unsynced' : 'locked',
    },
    calibration,
    transforms: [
      {
        kind: 'de-identification',
        models: [{ name: 'face', kind: 'face', sha256: sha('model') }],
        paramsDigest: sha('params'),
        frames: { in: 1200, withDetections: 40, failed, dropped: failed },
        boxes: { face: 30, plate: 12 },
      },
    ],
    producer: { rigcapVersion: '0.1.0', configDigest: sha('config') },
    policy: {
      residency: 'EU',
      retentionDays: 30,
      purpose: 'perception training',
      owner: o.noOwner === true ? '' : 'fleet team',
    },
  };
}

/** One session of three chunks, closed with its gaps, and a store's receipts. */
export function buildSession(o: FixtureOptions = {}): {
  device: DecodedRecord[];
  store: DecodedRecord[];
  closeGaps: SessionGap[];
} {
  const device = new Chain(deviceId);
  const store = new Chain(storeId);
  const open = device.add(
    'session',
    { sessionId: fixtureSessionId, phase: 'open', rigId: 'rig', startNs: String(t0) },
    sessionSubject(fixtureSessionId, []),
  );
  const bodies = [1, 2, 3].map((i) => chunkBody(o, i));
  const digests = bodies.map((b) => sha(`chunk ${b.chunkIndex}`));
  const chunks = bodies.map((b, i) =>
    device.add('capture-chunk', b, chunkSubject(chunkFileName(b.chunkIndex), digests[i]!), BigInt(b.endNs)),
  );
  const endNs = t0 + 3n * chunkNs;
  const gaps = sessionGaps({ chunks: bodies as CaptureChunkPredicate[] });
  const close = device.add(
    'session',
    {
      sessionId: fixtureSessionId,
      phase: 'close',
      rigId: 'rig',
      startNs: String(t0),
      endNs: String(endNs),
      chunks: 3,
      root: sessionSubject(fixtureSessionId, digests)[0]!.digest.sha256,
      gaps,
      reason: 'stop',
    },
    sessionSubject(fixtureSessionId, digests),
    endNs + 1_000_000n,
  );
  // The store receipts the open record too (not counted in coverage, never held against it).
  for (const r of [open, ...chunks, close]) {
    if (o.missingReceipt === true && r === chunks[1]) continue;
    const idx = chunks.indexOf(r);
    store.add(
      'custody-receipt',
      {
        record: { signer: deviceId, seq: r.chain.seq, sha256: r.payloadSha256 },
        blob:
          idx < 0
            ? null
            : { name: chunkFileName(idx + 1), sha256: digests[idx]!, bytes: String(50 * 1024 * 1024) },
        receivedWallNs: String(endNs + 2_000_000_000n),
        log: { index: r.chain.seq, size: r.chain.seq + 1, root: sha(`log ${r.chain.seq}`) },
      },
      receiptSubject(deviceId, r.chain.seq, r.payloadSha256),
    );
  }
  const deviceRecords = device.records.filter((r) => !(o.chainGap === true && r === chunks[1]));
  return { device: deviceRecords, store: store.records, closeGaps: gaps };
}

/** The records as chains by signer (what readiness and exports read). */
export function chainsOf(s: ReturnType<typeof buildSession>): Map<string, DecodedRecord[]> {
  return new Map([
    [deviceId, s.device],
    [storeId, s.store],
  ]);
}

async function writeChain(root: string, signer: string, records: readonly DecodedRecord[]): Promise<void> {
  await mkdir(join(root, 'records', signer), { recursive: true });
  for (const r of records)
    await writeFile(join(root, 'records', signer, recordFileName(r.chain.seq)), r.bytes);
}

/** A spool: the device chain under records/, the receipts in the catalog's SQLite as sync keeps them. */
export async function writeSpool(s: ReturnType<typeof buildSession>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'rigcap-readiness-spool-'));
  await writeChain(root, deviceId, s.device);
  const db = new Database(join(root, 'catalog.sqlite'));
  db.exec('CREATE TABLE records (signer_id TEXT, seq INTEGER, receipt_json TEXT)');
  const insert = db.prepare('INSERT INTO records VALUES (?, ?, ?)');
  for (const r of s.store) {
    if (r.name !== 'custody-receipt') continue;
    const p = r.predicate as unknown as { record: { signer: string; seq: number } };
    insert.run(p.record.signer, p.record.seq, new TextDecoder().decode(r.bytes));
  }
  db.close();
  return root;
}

/** A store: every signer's chain under records/. */
export async function writeStore(s: ReturnType<typeof buildSession>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'rigcap-readiness-store-'));
  await writeChain(root, deviceId, s.device);
  await writeChain(root, storeId, s.store);
  return root;
}
