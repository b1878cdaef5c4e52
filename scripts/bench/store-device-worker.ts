// A worker thread hosting some of the store bench's simulated devices. Each device's sync commits
// receipts to its own catalog with synchronous=FULL, and better-sqlite3 blocks its thread for the
// fsync; N real devices fsync on N disks at once, so the bench spreads its devices over threads
// instead of queueing every device's fsync on one event loop.
// Messages: in {go} once prepared; out {ready, files} after preparing, then {done, ...} or {error}.
import { parentPort, workerData } from 'node:worker_threads';
import { silentLogger } from '../../agent/log.ts';
import { BenchDevice, deviceSync } from './store-devices.ts';

/** What a worker is given. */
export interface DeviceWorkerData {
  /** Device ids, spool dirs, enrolment tokens and the receiver each one syncs to. */
  devices: Array<{ deviceId: string; spoolDir: string; token: string; baseUrl: string }>;
  storeKeyPem: string;
  /** Heartbeats per device (records phase) or chunks per device (payload phase). */
  job:
    | { kind: 'records'; heartbeats: number; seconds: number }
    | { kind: 'payload'; chunks: number; bytes: number };
}

/** What a worker answers when its devices have synced. */
export interface DeviceWorkerDone {
  done: true;
  admitted: number;
  receiptMs: number[];
  /** Devices with records still pending at the end. */
  unfinished: number;
}

async function main(data: DeviceWorkerData): Promise<void> {
  const log = silentLogger();
  const fleet = data.devices.map((d) => {
    const device = new BenchDevice({ deviceId: d.deviceId, spoolDir: d.spoolDir });
    return {
      device,
      sync: deviceSync({
        device,
        baseUrl: d.baseUrl,
        enrollToken: d.token,
        storeKeyPem: data.storeKeyPem,
        log,
      }),
    };
  });
  const files: string[][] = [];
  if (data.job.kind === 'records') {
    // Enrolled before the phase starts, so its window measures steady traffic, not first contact.
    for (const { device } of fleet) await device.enrol();
    const until = Date.now() + 120_000;
    const enrolled = await Promise.all(fleet.map(({ sync }) => sync.scheduler.drain({ untilMs: until })));
    if (enrolled.some((r) => !r.empty)) throw new Error('devices did not enrol within 120 s');
    for (const { sync } of fleet) sync.client.restartCount();
    for (const { device } of fleet) await device.heartbeats(data.job.heartbeats);
  } else {
    for (const { device } of fleet) {
      await device.enrol();
      files.push(await device.chunks(data.job.chunks, data.job.bytes));
    }
  }
  for (const { sync } of fleet) await sync.scheduler.scan();
  const go = new Promise<void>((resolve) => parentPort?.once('message', () => resolve()));
  parentPort?.postMessage({ ready: true, files });
  await go;
  const signal = AbortSignal.timeout(data.job.kind === 'records' ? data.job.seconds * 1000 : 600_000);
  const results = await Promise.all(fleet.map(({ sync }) => sync.scheduler.drain({ signal })));
  const done: DeviceWorkerDone = {
    done: true,
    admitted: fleet.reduce((n, { sync }) => n + sync.client.admitted, 0),
    receiptMs: fleet.flatMap(({ sync }) => sync.client.receiptMs),
    unfinished: results.filter((r) => !r.empty).length,
  };
  for (const { sync } of fleet) await sync.close();
  parentPort?.postMessage(done);
}

main(workerData as DeviceWorkerData).catch((err: unknown) => {
  parentPort?.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
});
