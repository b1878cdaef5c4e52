// Memory stays bounded under overload: a publisher far faster than the writer (large lidar frames
// flat out) into tiny drop-oldest queues. After warm-up, the daemon's RSS must not keep growing
// over many sealed chunks, and the excess shows up as queue_full drops in /status.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { simAgentConfigYaml } from '../../integration/agent/sim-config.ts';
import { killDaemon, rssBytes, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { readLines } from '../../support/lines.ts';

const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: true,
  imu: true,
  gnss: false,
  tf: false,
} as const;
const MiB = 1024 * 1024;

let dir: string | undefined;
let rigProc: ChildProcess | undefined;
let child: Daemon | undefined;
afterEach(async () => {
  await killDaemon(child);
  if (rigProc !== undefined && rigProc.exitCode === null && rigProc.signalCode === null) {
    const gone = new Promise((r) => rigProc!.once('exit', r));
    rigProc.kill('SIGKILL');
    await gone;
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  rigProc = undefined;
  child = undefined;
});

/** Starts the rig in a child process and resolves with its bound endpoint. */
async function startRigProcess(options: Record<string, unknown>): Promise<string> {
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'rig-child.ts'), JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  rigProc = proc;
  const line = await readLines(proc).next({ what: 'the sim rig to bind', timeoutMs: 60_000 });
  return (JSON.parse(line) as { endpoint: string }).endpoint;
}

/** RSS samples, one per sealed chunk: memory is sampled as work is done, however fast the machine. */
const SAMPLES = 12;

describe('rigcap run under overload', () => {
  it('keeps RSS bounded and drops the excess as queue_full', { timeout: 300_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-memory-'));
    // ~640 KiB scans at 300 Hz (~190 MB/s asked for): several times what the writer gets through.
    const endpoint = await startRigProcess({
      endpoint: 'tcp://127.0.0.1:0',
      sensors,
      lidar: { points: 40_000 },
      ratesHz: { '/lidar/points': 300, '/imu/data': 200 },
    });
    const configFile = await writeDaemonConfig(
      join(dir, 'rigcap.yaml'),
      simAgentConfigYaml({
        spoolDir: join(dir, 'spool'),
        keysDir: join(dir, 'secrets'),
        endpoint,
        sensors,
        listen: '127.0.0.1:0',
        queue: { size: 2, maxBytes: 2 * MiB, dropPolicy: 'drop-oldest' },
        maxMessageBytes: MiB,
        chunking: { maxBytes: '8MiB', maxDurationMs: 2000, mcapChunkBytes: '1MiB', zstdLevel: 3 },
      }),
    );
    child = startDaemon(configFile);
    await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
    // Warm-up: the overload has begun (queue_full drops) and the first chunks are sealed, so heap,
    // ZeroMQ buffers and the writer have reached their working size.
    await child.waitForStatus(
      (s) =>
        (s.streams.find((x) => x.name === 'lidar')?.drops['queue_full'] ?? 0) > 0 && s.session.chunks >= 2,
      { what: 'overload (lidar queue_full drops) and two chunks sealed', timeoutMs: 120_000 },
    );

    const samples: number[] = [await rssBytes(child.pid)];
    while (samples.length < SAMPLES) {
      await child.waitForLog((l) => l.msg === 'chunk sealed', {
        what: `a chunk sealed after RSS sample ${samples.length} of ${SAMPLES}`,
        from: child.logs.length,
      });
      samples.push(await rssBytes(child.pid));
    }
    const status = await child.status();
    const lidar = status.streams.find((s) => s.name === 'lidar');
    const first = samples[0] ?? 0;
    const last = samples.at(-1) ?? 0;
    const mb = samples.map((b) => Math.round(b / MiB));
    // A memory bound, not a timing one: whatever the rates, RSS may not climb with the backlog.
    expect(
      last,
      `RSS MiB over ${SAMPLES} chunks: ${mb.join(' ')}; lidar ${JSON.stringify(lidar)}`,
    ).toBeLessThanOrEqual(first + 150 * MiB);
    expect(lidar?.drops['queue_full'] ?? 0, JSON.stringify(lidar)).toBeGreaterThan(0);
    expect(
      Object.keys(lidar?.drops ?? {}).filter((c) => c !== 'queue_full' && c !== 'upstream_loss'),
    ).toEqual([]);
    expect(lidar?.queueDepth ?? 0).toBeLessThanOrEqual(2);
    expect(status.session.chunks).toBeGreaterThan(0);
    console.log(JSON.stringify({ rssMiB: mb, lidar }));

    const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
    expect(exit, child.tail()).toEqual({ code: 0, signal: null });
  });
});
