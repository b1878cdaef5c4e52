// A device stand-in for sync tests: signs records with the records API and writes them into a
// spool in the DESIGN layout (records/, sessions/, keys/), the way the pipeline does.
import { randomBytes, createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildRecord, ChainState, type SignedRecord } from '../../../agent/records/chain.ts';
import { serializeEnvelope } from '../../../agent/records/dsse.ts';
import { generateKeyPair, nodeSigner, type Signer } from '../../../agent/records/ed25519.ts';
import {
  chunkFileName,
  recordFileName,
  type PredicateBody,
  type PredicateName,
} from '../../../agent/records/predicates.ts';
import type { ResourceDescriptor } from '../../../agent/records/statement.ts';

export class FakeDevice {
  readonly deviceId: string;
  readonly spoolDir: string;
  signer: Signer;
  publicKeyPem: string;
  readonly chain = new ChainState(null);
  readonly sessionId: string;
  #chunkIndex = 0;

  constructor(options: { deviceId: string; spoolDir: string; sessionId?: string }) {
    this.deviceId = options.deviceId;
    this.spoolDir = options.spoolDir;
    this.sessionId = options.sessionId ?? `s-${randomBytes(4).toString('hex')}`;
    const pair = generateKeyPair();
    this.signer = nodeSigner(pair.privateKeyPem);
    this.publicKeyPem = pair.publicKeyPem;
    mkdirSync(join(this.spoolDir, 'keys'), { recursive: true });
    writeFileSync(join(this.spoolDir, 'keys', `${this.deviceId}.pub.pem`), this.publicKeyPem);
  }

  /** Signs the next record without writing it. */
  sign<N extends PredicateName>(
    name: N,
    subject: ResourceDescriptor[],
    body: PredicateBody<N>,
    options: { signer?: Signer } = {},
  ): SignedRecord<N> {
    const record = buildRecord({
      name,
      body,
      subject,
      link: this.chain.next(),
      context: {
        signerId: this.deviceId,
        bootId: 'boot-1',
        monoNs: process.hrtime.bigint(),
        wallNs: BigInt(Date.now()) * 1_000_000n,
      },
      signer: options.signer ?? this.signer,
    });
    this.chain.advance({ seq: record.seq, payloadSha256: record.payloadSha256 });
    return record;
  }

  /** Writes a signed record to records/<deviceId>/. */
  write(record: SignedRecord): Uint8Array {
    const bytes = serializeEnvelope(record.envelope);
    const dir = join(this.spoolDir, 'records', this.deviceId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, recordFileName(record.seq)), bytes);
    return bytes;
  }

  enrol(): Uint8Array {
    const r = this.sign(
      'device-key',
      [{ name: `key-${this.signer.keyId}`, digest: { sha256: this.signer.keyId } }],
      {
        action: 'enrol',
        keyId: this.signer.keyId,
        publicKey: this.publicKeyPem,
      },
    );
    return this.write(r);
  }

  openSession(): Uint8Array {
    const r = this.sign(
      'session',
      [{ name: `session-${this.sessionId}`, digest: { sha256: createHash('sha256').digest('hex') } }],
      {
        sessionId: this.sessionId,
        phase: 'open',
        rigId: 'test-rig',
        startNs: '1',
      },
    );
    const bytes = this.write(r);
    mkdirSync(join(this.spoolDir, 'sessions', this.sessionId), { recursive: true });
    appendFileSync(join(this.spoolDir, 'sessions', this.sessionId, 'session.dsse.json'), bytes);
    return bytes;
  }

  /** Writes a chunk of `bytes` random bytes with its record and sidecar; returns its path and digest. */
  chunk(options: { bytes: number; topic?: string; endNs?: bigint; purpose?: string }): {
    path: string;
    sha256: string;
    record: Uint8Array;
    seq: number;
  } {
    this.#chunkIndex += 1;
    const name = chunkFileName(this.#chunkIndex);
    const data = randomBytes(options.bytes);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const dir = join(this.spoolDir, 'sessions', this.sessionId);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    writeFileSync(path, data);
    const end = options.endNs ?? BigInt(Date.now()) * 1_000_000n;
    const r = this.sign('capture-chunk', [{ name, digest: { sha256 } }], {
      sessionId: this.sessionId,
      chunkIndex: this.#chunkIndex,
      startNs: (end - 1_000_000_000n).toString(),
      endNs: end.toString(),
      bytes: String(options.bytes),
      streams: [
        { topic: options.topic ?? '/imu', type: 'sensor_msgs/msg/Imu', count: 1, drops: {}, upstreamLoss: 0 },
      ],
      timesync: {
        source: 'none',
        startNs: (end - 1_000_000_000n).toString(),
        endNs: end.toString(),
        intervals: [],
        offsetNs: null,
        dispersionNs: null,
        samples: 0,
        steps: [],
        stateAtEnd: 'unsynced',
      },
      calibration: [],
      transforms: [],
      producer: { rigcapVersion: '0.1.0', configDigest: 'x' },
      policy: { residency: 'eu', retentionDays: 30, purpose: options.purpose ?? 'test' },
    });
    const record = this.write(r);
    writeFileSync(`${path}.dsse.json`, record);
    return { path, sha256, record, seq: r.seq };
  }
}
