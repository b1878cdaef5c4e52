// Simulated devices for the store bench: each has its own key, chain and spool in the DESIGN
// layout (records/, sessions/, keys/), and syncs it with the agent's own sync code (catalog sync
// ledger, tus client signing every request, upload scheduler, receipt verification).
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../agent/catalog/catalog.ts';
import type { Logger } from '../../agent/log.ts';
import { buildRecord, ChainState, previousRecordSubject } from '../../agent/records/chain.ts';
import { serializeEnvelope } from '../../agent/records/dsse.ts';
import { generateKeyPair, nodeSigner, type Signer } from '../../agent/records/ed25519.ts';
import {
  chunkFileName,
  recordFileName,
  type PredicateBody,
  type PredicateName,
} from '../../agent/records/predicates.ts';
import type { ResourceDescriptor } from '../../agent/records/statement.ts';
import { UploadScheduler } from '../../agent/sync/scheduler.ts';
import { TusClient } from '../../agent/sync/tus-client.ts';

/** One simulated device and its spool. */
export class BenchDevice {
  readonly deviceId: string;
  readonly spoolDir: string;
  readonly signer: Signer;
  readonly publicKeyPem: string;
  readonly sessionId: string;
  readonly #chain = new ChainState(null);
  readonly #started = process.hrtime.bigint();
  #chunkIndex = 0;

  constructor(o: { deviceId: string; spoolDir: string }) {
    this.deviceId = o.deviceId;
    this.spoolDir = o.spoolDir;
    this.sessionId = `s-${randomBytes(4).toString('hex')}`;
    const pair = generateKeyPair();
    this.signer = nodeSigner(pair.privateKeyPem);
    this.publicKeyPem = pair.publicKeyPem;
    mkdirSync(this.spoolDir, { recursive: true });
  }

  async #sign<N extends PredicateName>(
    name: N,
    subject: ResourceDescriptor[],
    body: PredicateBody<N>,
  ): Promise<void> {
    const record = buildRecord({
      name,
      body,
      subject,
      link: this.#chain.next(),
      context: {
        signerId: this.deviceId,
        bootId: 'bench-boot',
        monoNs: process.hrtime.bigint(),
        wallNs: BigInt(Date.now()) * 1_000_000n,
      },
      signer: this.signer,
    });
    this.#chain.advance({ seq: record.seq, payloadSha256: record.payloadSha256 });
    const dir = join(this.spoolDir, 'records', this.deviceId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, recordFileName(record.seq)), serializeEnvelope(record.envelope));
  }

  /** The enrol record (seq 1) and the public key file. */
  async enrol(): Promise<void> {
    await mkdir(join(this.spoolDir, 'keys'), { recursive: true });
    await writeFile(join(this.spoolDir, 'keys', `${this.deviceId}.pub.pem`), this.publicKeyPem);
    const keyId = this.signer.keyId;
    await this.#sign('device-key', [{ name: `key-${keyId}`, digest: { sha256: keyId } }], {
      action: 'enrol',
      keyId,
      publicKey: this.publicKeyPem,
    });
  }

  /** `count` heartbeats, each naming the record before it. */
  async heartbeats(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await this.#sign('heartbeat', previousRecordSubject(this.#chain.next()), {
        sessionId: null,
        uptimeNs: (process.hrtime.bigint() - this.#started).toString(),
        status: { backlog: i },
      });
    }
  }

  /** `count` chunks of `bytes` random bytes with their records; returns their paths. */
  async chunks(count: number, bytes: number): Promise<string[]> {
    const dir = join(this.spoolDir, 'sessions', this.sessionId);
    await mkdir(dir, { recursive: true });
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      this.#chunkIndex += 1;
      const name = chunkFileName(this.#chunkIndex);
      const data = randomBytes(bytes);
      const path = join(dir, name);
      await writeFile(path, data);
      paths.push(path);
      const end = BigInt(Date.now()) * 1_000_000n;
      const start = (end - 1_000_000_000n).toString();
      await this.#sign(
        'capture-chunk',
        [{ name, digest: { sha256: createHash('sha256').update(data).digest('hex') } }],
        {
          sessionId: this.sessionId,
          chunkIndex: this.#chunkIndex,
          startNs: start,
          endNs: end.toString(),
          bytes: String(bytes),
          streams: [{ topic: '/imu', type: 'sensor_msgs/msg/Imu', count: 1, drops: {}, upstreamLoss: 0 }],
          timesync: {
            source: 'none',
            startNs: start,
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
          producer: { rigcapVersion: '0.1.0', configDigest: 'bench' },
          policy: { residency: 'eu', retentionDays: 30, purpose: 'bench' },
        },
      );
    }
    return paths;
  }
}

/** Times every POST /v1/records answer (the device's wait for its receipt) and counts 201s. */
export class TimedTusClient extends TusClient {
  readonly receiptMs: number[] = [];
  admitted = 0;

  /** Forgets what was counted so far (a phase starts). */
  restartCount(): void {
    this.receiptMs.length = 0;
    this.admitted = 0;
  }

  override async call(...args: Parameters<TusClient['call']>): ReturnType<TusClient['call']> {
    const [method, url] = args;
    if (method !== 'POST' || !url.endsWith('/v1/records')) return super.call(...args);
    const t0 = performance.now();
    const res = await super.call(...args);
    this.receiptMs.push(performance.now() - t0);
    if (res.status === 201) this.admitted += 1;
    return res;
  }
}

/** The agent's sync for one device's spool: its catalog ledger, a signing tus client, the scheduler. */
export function deviceSync(o: {
  device: BenchDevice;
  baseUrl: string;
  enrollToken: string;
  storeKeyPem: string;
  log: Logger;
}): { scheduler: UploadScheduler; client: TimedTusClient; close: () => Promise<void> } {
  const catalog = Catalog.open({ path: join(o.device.spoolDir, 'catalog.sqlite'), logger: o.log });
  const client = new TimedTusClient({
    baseUrl: o.baseUrl,
    partBytes: 8 * 1024 * 1024,
    log: o.log,
    signer: o.device.signer,
  });
  const scheduler = new UploadScheduler({
    spoolDir: o.device.spoolDir,
    state: catalog.syncLedger(),
    client,
    log: o.log,
    concurrency: 2,
    backoffMinMs: 50,
    backoffMaxMs: 1000,
    enrollToken: o.enrollToken,
    storeKeyPem: o.storeKeyPem,
  });
  return {
    scheduler,
    client,
    close: async () => {
      await scheduler.close();
      catalog.close();
    },
  };
}
