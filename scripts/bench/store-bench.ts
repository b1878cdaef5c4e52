// `rigcap bench store`: N simulated devices (the agent's own sync code, each with its own key and
// chain) sync through 2 receiver processes on one PostgreSQL and one S3 bucket, all on loopback.
// Records phase: enrolment and heartbeats for `seconds`; records_per_s counts the records admitted
// (answered 201, so in the log) per second, receipt_p99_ms is the device's wait for each receipt.
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
import type { Logger } from '../../agent/log.ts';
import { s3ClientConfig } from '../../receiver/backends/s3/location.ts';
import { startPostgresEngine, startRgwEngine, type Engine } from '../engines/engines.ts';
import { round, type BenchReport } from './figures.ts';
import { BenchDevice, deviceSync } from './store-devices.ts';
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

/** Devices with their spools and their sync, each enrolling with its own token. */
async function devicesOf(
  dir: string,
  name: string,
  o: {
    count: number;
    tokens: readonly string[];
    baseUrls: readonly string[];
    storeKeyPem: string;
    log: Logger;
  },
): Promise<Array<{ device: BenchDevice; sync: ReturnType<typeof deviceSync> }>> {
  return Array.from({ length: o.count }, (_, i) => {
    const device = new BenchDevice({ deviceId: `${name}-${i}`, spoolDir: join(dir, `${name}-${i}`) });
    const sync = deviceSync({
      device,
      baseUrl: o.baseUrls[i % o.baseUrls.length] ?? '',
      enrollToken: o.tokens[i] ?? '',
      storeKeyPem: o.storeKeyPem,
      log: o.log,
    });
    return { device, sync };
  });
}

/** Records phase: enrolment plus heartbeats, synced for `seconds` (or until all are in). */
async function recordsPhase(
  fleet: Awaited<ReturnType<typeof devicesOf>>,
  seconds: number,
): Promise<{
  recordsPerS: number;
  admitted: number;
  receiptP99Ms: number;
  elapsedS: number;
  perDevice: number;
}> {
  // Enough records that the devices are still busy when the phase ends.
  const perDevice = Math.max(10, Math.ceil((seconds * 2000) / fleet.length));
  for (const { device } of fleet) {
    await device.enrol();
    await device.heartbeats(perDevice);
  }
  for (const { sync } of fleet) await sync.scheduler.scan();
  const signal = AbortSignal.timeout(seconds * 1000);
  const t0 = performance.now();
  await Promise.all(fleet.map(({ sync }) => sync.scheduler.drain({ signal })));
  const elapsedS = Math.min(seconds, (performance.now() - t0) / 1000);
  const admitted = fleet.reduce((n, { sync }) => n + sync.client.admitted, 0);
  return {
    recordsPerS: admitted / elapsedS,
    admitted,
    receiptP99Ms: p99(fleet.flatMap(({ sync }) => sync.client.receiptMs)),
    elapsedS,
    perDevice: perDevice + 1,
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
  fleet: Awaited<ReturnType<typeof devicesOf>>,
  stage: Stage,
  o: { chunks: number; bytes: number },
): Promise<{ ratio: number; baselineS: number; storeS: number; bytes: number; failed?: string }> {
  const files: string[][] = [];
  for (const { device } of fleet) {
    await device.enrol();
    files.push(await device.chunks(o.chunks, o.bytes));
  }
  const s3 = baselineClient(stage);
  const t0 = performance.now();
  await Promise.all(files.map((paths, i) => putFiles(s3, stage.bucket, `bench-baseline/${i}`, paths)));
  const baselineS = (performance.now() - t0) / 1000;
  s3.destroy();
  for (const { sync } of fleet) await sync.scheduler.scan();
  const t1 = performance.now();
  const signal = AbortSignal.timeout(600_000);
  const results = await Promise.all(fleet.map(({ sync }) => sync.scheduler.drain({ signal })));
  const storeS = (performance.now() - t1) / 1000;
  const bytes = fleet.length * o.chunks * o.bytes;
  const stuck = results.filter((r) => !r.empty).length;
  return {
    ratio: baselineS / storeS,
    baselineS,
    storeS,
    bytes,
    ...(stuck === 0 ? {} : { failed: `${stuck} device(s) did not finish syncing within 600 s` }),
  };
}

/** Runs the bench and returns its figures. */
export async function storeReport(o: StoreBenchOptions): Promise<BenchReport> {
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-bench-store-'));
  const stage = await stageOf(o);
  const receivers: ReceiverProcess[] = [];
  const fleets: Array<Awaited<ReturnType<typeof devicesOf>>> = [];
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
    const base = { baseUrls: receivers.map((r) => r.baseUrl), storeKeyPem: store.publicKeyPem, log: o.log };
    const recordsFleet = await devicesOf(dir, 'rec', { ...base, count: o.devices, tokens });
    fleets.push(recordsFleet);
    const records = await recordsPhase(recordsFleet, o.seconds);
    const payloadFleet = await devicesOf(dir, 'pay', {
      ...base,
      count: o.devices,
      tokens: tokens.slice(o.devices),
    });
    fleets.push(payloadFleet);
    const payload = await payloadPhase(payloadFleet, stage, {
      chunks: o.chunksPerDevice ?? 2,
      bytes: o.chunkBytes ?? 4 * 1024 * 1024,
    });
    const rss = await Promise.all(receivers.map((r) => r.peakRssMb()));
    return reportOf(o, { records, payload, rss });
  } finally {
    for (const fleet of fleets) for (const { sync } of fleet) await sync.close();
    for (const r of receivers) await r.stop();
    for (const e of stage.engines.reverse()) await e.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function reportOf(
  o: StoreBenchOptions,
  m: {
    records: Awaited<ReturnType<typeof recordsPhase>>;
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
