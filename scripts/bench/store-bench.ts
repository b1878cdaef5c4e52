// `rigcap bench store`: N simulated devices (the agent's own sync code, each with its own key and
// chain) sync through 2 receiver processes on one PostgreSQL and one S3 bucket, all on loopback.
// Records phase: once enrolled, the devices send heartbeats for `seconds`; records_per_s counts the
// records admitted (answered 201, so in the log) per second, receipt_p99_ms is the device's wait for
// each receipt.
// Payload phase: fresh devices send chunks; ingest_goodput_ratio is the store's time for those
// bytes against plain S3 multipart PUTs of the same bytes by as many clients with the same overlap,
// measured in the same run. receiver_rss_mb is the larger peak RSS of the two receivers.
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../agent/log.ts';
import { s3ClientConfig } from '../../receiver/backends/s3/location.ts';
import { startPostgresEngine, startRgwEngine, type Engine } from '../engines/engines.ts';
import { round, type BenchReport } from './figures.ts';
import type { DeviceWorkerData, DeviceWorkerDone } from './store-device-worker.ts';
import { startReceiverProcess, type ReceiverProcess } from './store-receivers.ts';

/** What to run against; engines are started for whatever is not given. */
export interface StoreBenchOptions {
  log: Logger;
  env: NodeJS.ProcessEnv;
  devices: number;
  /** Length of the records phase. */
  seconds: number;
  chunksPerDevice?: number;
  chunkBytes?: number;
  db?: string;
  /** s3://BUCKET[/PREFIX] */
  blobs?: string;
  s3Endpoint?: string;
}

interface Stage {
  dbUrl: string;
  bucket: string;
  prefix: string;
  s3Endpoint: string | undefined;
  env: NodeJS.ProcessEnv;
  engines: Engine[];
}

const partBytes = 8 * 1024 * 1024;
/** Worker threads the simulated devices are spread over. */
const maxThreads = 16;

async function stageOf(o: StoreBenchOptions): Promise<Stage> {
  const engines: Engine[] = [];
  try {
    const pg = o.db === undefined ? await startPostgresEngine({ durable: true }) : undefined;
    if (pg !== undefined) engines.push(pg);
    const rgw = o.blobs === undefined ? await startRgwEngine({ bucket: 'rigcap-bench' }) : undefined;
    if (rgw !== undefined) engines.push(rgw);
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(o.blobs ?? 's3://rigcap-bench/store');
    return {
      dbUrl: o.db ?? pg?.url ?? '',
      bucket: m?.[1] ?? 'rigcap-bench',
      prefix: m?.[2] ?? '',
      s3Endpoint: o.s3Endpoint ?? rgw?.endpoint,
      env: { ...o.env, ...rgw?.awsEnv },
      engines,
    };
  } catch (err) {
    for (const e of engines.reverse()) await e.stop();
    throw err;
  }
}

function p99(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

/** Simulated devices spread over worker threads, prepared and then started together. */
interface Fleet {
  /** Each worker's chunk files once its devices are prepared. */
  ready: Promise<string[][]>;
  /** Starts every device's sync; resolves with each worker's answer. */
  go(): Promise<DeviceWorkerDone[]>;
  terminate(): Promise<void>;
}

const workerUrl = new URL('./store-device-worker.ts', import.meta.url);

function fleetOf(o: {
  dir: string;
  name: string;
  tokens: readonly string[];
  baseUrls: readonly string[];
  storeKeyPem: string;
  job: DeviceWorkerData['job'];
}): Fleet {
  const threads = Math.min(o.tokens.length, maxThreads);
  const assigned: Array<DeviceWorkerData['devices']> = Array.from({ length: threads }, () => []);
  o.tokens.forEach((token, i) =>
    assigned[i % threads]?.push({
      deviceId: `${o.name}-${i}`,
      spoolDir: join(o.dir, `${o.name}-${i}`),
      token,
      baseUrl: o.baseUrls[i % o.baseUrls.length] ?? '',
    }),
  );
  const workers = assigned.map((devices) => {
    const workerData: DeviceWorkerData = { devices, storeKeyPem: o.storeKeyPem, job: o.job };
    const worker = new Worker(workerUrl, { workerData });
    const messages: unknown[] = [];
    const waiters: Array<(m: unknown) => void> = [];
    const next = (): Promise<unknown> =>
      new Promise((resolve) => {
        const m = messages.shift();
        if (m !== undefined) resolve(m);
        else waiters.push(resolve);
      });
    const deliver = (m: unknown): void => {
      const w = waiters.shift();
      if (w !== undefined) w(m);
      else messages.push(m);
    };
    worker.on('message', deliver);
    worker.on('error', (err) => deliver({ error: err.message }));
    const expect = async <T>(key: string): Promise<T> => {
      const m = (await next()) as Record<string, unknown>;
      if (typeof m['error'] === 'string') throw new Error(`bench device worker: ${m['error']}`);
      if (m[key] === undefined) throw new Error(`bench device worker: expected ${key}`);
      return m as T;
    };
    return { worker, expect };
  });
  const ready = Promise.all(workers.map((w) => w.expect<{ files: string[][] }>('ready')));
  return {
    ready: ready.then((all) => all.flatMap((r) => r.files)),
    async go() {
      await ready;
      const done = workers.map((w) => w.expect<DeviceWorkerDone>('done'));
      for (const w of workers) w.worker.postMessage({ go: true });
      return Promise.all(done);
    },
    async terminate() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}

/** Records phase: enrolment and heartbeats, synced for `seconds` (or until all are in). */
async function recordsPhase(
  fleet: Fleet,
  seconds: number,
): Promise<{ recordsPerS: number; admitted: number; receiptP99Ms: number; elapsedS: number }> {
  await fleet.ready;
  const t0 = performance.now();
  const done = await fleet.go();
  const elapsedS = Math.min(seconds, (performance.now() - t0) / 1000);
  const admitted = done.reduce((n, d) => n + d.admitted, 0);
  return {
    recordsPerS: admitted / elapsedS,
    admitted,
    receiptP99Ms: p99(done.flatMap((d) => d.receiptMs)),
    elapsedS,
  };
}

/** A plain S3 client with the receivers' endpoint and credentials. */
function baselineClient(stage: Stage): S3Client {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = stage.env;
  return new S3Client({
    ...s3ClientConfig(stage.s3Endpoint === undefined ? {} : { endpoint: stage.s3Endpoint }),
    ...(stage.env['AWS_REGION'] === undefined ? {} : { region: stage.env['AWS_REGION'] }),
    ...(accessKeyId === undefined || secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId, secretAccessKey } }),
  });
}

/** One client's plain multipart PUTs of its files, two at once (the scheduler's overlap). */
async function putFiles(s3: S3Client, bucket: string, key: string, paths: readonly string[]): Promise<void> {
  const one = async (path: string): Promise<void> => {
    const data = await readFile(path);
    const Key = `${key}/${basename(path)}`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    for (let off = 0, n = 1; off < data.length; off += partBytes, n++) {
      const body = data.subarray(off, off + partBytes);
      const { ETag } = await s3.send(
        new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: n, Body: body }),
      );
      parts.push({ ETag: ETag ?? '', PartNumber: n });
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  };
  const queue = [...paths];
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) await one(p);
  };
  await Promise.all([worker(), worker()]);
}

/** Payload phase: plain S3 multipart PUTs of the chunk bytes, then the same bytes through the store. */
async function payloadPhase(
  fleet: Fleet,
  stage: Stage,
  o: { devices: number; chunks: number; bytes: number },
): Promise<{ ratio: number; baselineS: number; storeS: number; bytes: number; failed?: string }> {
  const files = await fleet.ready;
  const s3 = baselineClient(stage);
  const t0 = performance.now();
  await Promise.all(files.map((paths, i) => putFiles(s3, stage.bucket, `bench-baseline/${i}`, paths)));
  const baselineS = (performance.now() - t0) / 1000;
  s3.destroy();
  const t1 = performance.now();
  const done = await fleet.go();
  const storeS = (performance.now() - t1) / 1000;
  const stuck = done.reduce((n, d) => n + d.unfinished, 0);
  return {
    ratio: baselineS / storeS,
    baselineS,
    storeS,
    bytes: o.devices * o.chunks * o.bytes,
    ...(stuck === 0 ? {} : { failed: `${stuck} device(s) did not finish syncing within 600 s` }),
  };
}

/** Runs the bench and returns its figures. */
export async function storeReport(o: StoreBenchOptions): Promise<BenchReport> {
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-bench-store-'));
  const stage = await stageOf(o);
  const receivers: ReceiverProcess[] = [];
  const fleets: Fleet[] = [];
  try {
    const tokens = Array.from({ length: 2 * o.devices }, () => randomBytes(24).toString('hex'));
    await writeFile(join(dir, 'tokens'), `${tokens.join('\n')}\n`, { mode: 0o600 });
    const setup = {
      dbUrl: stage.dbUrl,
      blobs: `s3://${stage.bucket}${stage.prefix === '' ? '' : `/${stage.prefix}`}`,
      s3Endpoint: stage.s3Endpoint,
      keyFile: join(dir, 'secrets', 'store.key'),
      tokenFile: join(dir, 'tokens'),
      env: stage.env,
    };
    // The first creates the store key; the second shares it.
    receivers.push(await startReceiverProcess(setup));
    receivers.push(await startReceiverProcess(setup));
    const store = (await (await fetch(`${receivers[0]?.baseUrl}/v1/store`)).json()) as {
      publicKeyPem: string;
    };
    const base = { dir, baseUrls: receivers.map((r) => r.baseUrl), storeKeyPem: store.publicKeyPem };
    // Enough heartbeats that the devices are still busy when the phase ends.
    const heartbeats = Math.max(10, Math.ceil((o.seconds * 2000) / o.devices));
    const recordsFleet = fleetOf({
      ...base,
      name: 'rec',
      tokens: tokens.slice(0, o.devices),
      job: { kind: 'records', heartbeats, seconds: o.seconds },
    });
    fleets.push(recordsFleet);
    const records = await recordsPhase(recordsFleet, o.seconds);
    const chunks = { chunks: o.chunksPerDevice ?? 2, bytes: o.chunkBytes ?? 4 * 1024 * 1024 };
    const payloadFleet = fleetOf({
      ...base,
      name: 'pay',
      tokens: tokens.slice(o.devices),
      job: { kind: 'payload', ...chunks },
    });
    fleets.push(payloadFleet);
    const payload = await payloadPhase(payloadFleet, stage, { devices: o.devices, ...chunks });
    const rss = await Promise.all(receivers.map((r) => r.peakRssMb()));
    return reportOf(o, { records: { ...records, perDevice: heartbeats }, payload, rss });
  } finally {
    for (const fleet of fleets) await fleet.terminate();
    for (const r of receivers) await r.stop();
    for (const e of stage.engines.reverse()) await e.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function reportOf(
  o: StoreBenchOptions,
  m: {
    records: Awaited<ReturnType<typeof recordsPhase>> & { perDevice: number };
    payload: Awaited<ReturnType<typeof payloadPhase>>;
    rss: number[];
  },
): BenchReport {
  const { records, payload } = m;
  return {
    bench: 'store',
    figures: [
      {
        name: 'records_per_s',
        value: round(records.recordsPerS, 1),
        unit: '1/s',
        target: 1000,
        better: 'higher',
      },
      {
        name: 'ingest_goodput_ratio',
        value: payload.failed === undefined ? round(payload.ratio) : 0,
        unit: 'ratio',
        target: 0.8,
        better: 'higher',
        ...(payload.failed === undefined ? {} : { failed: payload.failed }),
      },
      {
        name: 'receipt_p99_ms',
        value: round(records.receiptP99Ms, 1),
        unit: 'ms',
        target: null,
        better: 'lower',
      },
      {
        name: 'receiver_rss_mb',
        value: round(Math.max(...m.rss), 1),
        unit: 'MiB',
        target: null,
        better: 'lower',
      },
    ],
    details: {
      devices: o.devices,
      receivers: 2,
      records_phase_s: round(records.elapsedS, 2),
      records_admitted: records.admitted,
      records_per_device: records.perDevice,
      payload_bytes: payload.bytes,
      payload_baseline_s: round(payload.baselineS, 2),
      payload_store_s: round(payload.storeS, 2),
      receiver_rss_mb_each: m.rss.map((v) => round(v, 1)),
    },
  };
}
