// `rigcap run` under a stand-in for systemd (Type=notify, NotifyAccess=main, WatchdogSec): a real
// unix datagram NOTIFY_SOCKET that reads the sender's PID, the sim rig publishing imu/gnss/tf, and
// the spool checked on disk. Windows are generous; what is asserted is presence, absence and order.
import { accessSync, constants, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSdNotify } from '../../../scripts/build-sd-notify.js';
import { startSimRig, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfig } from '../../integration/agent/sim-config.ts';
import { killDaemon, startDaemon, type Daemon, type LogLine } from '../../support/daemon.ts';
import { checkSpool, sessionStatements } from '../../support/spool-check.ts';
import { waitFor } from '../../support/wait.ts';
import {
  mountFreezableDisk,
  python,
  startNotifyReceiver,
  type Datagram,
  type FreezableDisk,
  type NotifyReceiver,
} from './notify-harness.ts';

const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: false,
  imu: true,
  gnss: true,
  tf: true,
} as const;
/** WATCHDOG_USEC as systemd sets it for WatchdogSec=2s: the daemon pings every second. */
const watchdogUsec = '2000000';
const isPing = (d: Datagram): boolean => d.message === 'WATCHDOG=1';
/** A periodic status datagram (not the STATUS= that rides along with READY or STOPPING). */
const isPeriodicStatus = (d: Datagram): boolean => d.message.startsWith('STATUS=');

let dir: string | undefined;
let rig: SimRig | undefined;
let child: Daemon | undefined;
let receiver: NotifyReceiver | undefined;
let disk: FreezableDisk | undefined;
afterEach(async () => {
  // Thaw first: a child blocked on a frozen file system cannot even be killed.
  disk?.thaw();
  await killDaemon(child);
  receiver?.close();
  await rig?.stop();
  disk?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  [dir, rig, child, receiver, disk] = [undefined, undefined, undefined, undefined, undefined];
});

/** Writes the agent config: sim rig streams (no cameras, so no de-id), no chrony, no ops endpoint, watchdog on. */
function writeConfig(
  file: string,
  options: { spoolDir: string; keysDir: string; endpoint: string; maxDurationMs?: number },
): void {
  const { maxDurationMs = 500, ...rest } = options;
  // Small MCAP chunks: the writer touches the file every few kilobytes, so a hung disk stops it at once.
  const config = simAgentConfig({ ...rest, sensors, chunking: { maxDurationMs, mcapChunkBytes: '4KiB' } });
  config['spool'] = { dir: options.spoolDir, minFreeBytes: '1MiB' };
  config['ops'] = { listen: '', heartbeatIntervalMs: 60_000, watchdog: true };
  writeFileSync(file, stringify(config));
}

/** What was true of the spool at the moment READY=1 arrived. */
interface SpoolAtReady {
  catalog: boolean;
  writable: boolean;
  /** Phases in the open session's session.dsse.json. */
  sessionPhases: string[];
}

function spoolNow(spool: string): SpoolAtReady {
  let writable = true;
  try {
    accessSync(spool, constants.W_OK);
  } catch {
    writable = false;
  }
  const sessionsDir = join(spool, 'sessions');
  const sessions = existsSync(sessionsDir) ? readdirSync(sessionsDir) : [];
  const sessionFile =
    sessions.length === 1 ? join(sessionsDir, sessions[0] as string, 'session.dsse.json') : undefined;
  const sessionPhases =
    sessionFile === undefined || !existsSync(sessionFile)
      ? []
      : readFileSync(sessionFile, 'utf8')
          .trim()
          .split('\n')
          .map(
            (line) =>
              (
                JSON.parse(
                  Buffer.from((JSON.parse(line) as { payload: string }).payload, 'base64').toString('utf8'),
                ) as { predicate: { phase: string } }
              ).predicate.phase,
          );
  return { catalog: existsSync(join(spool, 'catalog.sqlite')), writable, sessionPhases };
}

/** The sealed chunks of a session and whether each has its sidecar; no `.partial` may be left. */
async function sessionFiles(
  spool: string,
  sessionId: string,
): Promise<{ chunks: string[]; unsigned: string[]; partial: string[] }> {
  const names = await readdir(join(spool, 'sessions', sessionId));
  const chunks = names.filter((n) => /^chunk-\d{6}\.mcap$/.test(n)).sort();
  return {
    chunks,
    unsigned: chunks.filter((c) => !names.includes(`${c}.dsse.json`)),
    partial: names.filter((n) => n.endsWith('.partial')),
  };
}

async function startRig(): Promise<SimRig> {
  return startSimRig({
    endpoint: 'tcp://127.0.0.1:0',
    sensors,
    ratesHz: { '/imu/data': 200, '/tf': 20, '/tf_static': 1 },
  });
}

describe.skipIf(python === undefined)('rigcap run under systemd Type=notify', () => {
  it(
    'sends READY once the spool and first stream are up, STATUS periodically, WATCHDOG while capturing, STOPPING then seals and closes the session',
    { timeout: 180_000 },
    async () => {
      const problem = buildSdNotify();
      if (problem !== null) throw new Error(`cannot build the sd_notify addon (needs gcc): ${problem}`);
      dir = await mkdtemp(join(tmpdir(), 'rigcap-daemon-notify-'));
      const spool = join(dir, 'spool');
      rig = await startRig();
      const configFile = join(dir, 'rigcap.yaml');
      writeConfig(configFile, { spoolDir: spool, keysDir: join(dir, 'secrets'), endpoint: rig.endpoint });
      receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
      let atReady: SpoolAtReady | undefined;
      receiver.onDatagram((d) => {
        if (d.message.split('\n').includes('READY=1')) atReady ??= spoolNow(spool);
      });

      child = startDaemon(configFile, {
        env: { NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: watchdogUsec },
      });
      const ready = await receiver.waitFor((d) => d.message.split('\n').includes('READY=1'), 30_000);
      const messages = (): string[] => receiver!.datagrams.map((d) => d.message);

      // 1. READY=1 is the first datagram, from the main PID, once the spool is writable, the catalog
      //    exists and the session's open record is written (the session opens before the drivers).
      expect(messages()[0]).toBe(ready.message);
      expect(ready.message).toBe('READY=1\nSTATUS=capturing 4 streams');
      expect(ready.pid).toBe(child.pid);
      expect(atReady).toEqual({ catalog: true, writable: true, sessionPhases: ['open'] });
      const started = await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      const sessionId = String(started['sessionId']);

      // 2. A periodic STATUS= line (every 10 s) with rates, drops, clock and backlog.
      const status = await receiver.waitFor(isPeriodicStatus, 20_000);
      expect(status.message).toMatch(
        /^STATUS=4 streams, \d+ msg\/s, \d+ dropped, clock \w+, backlog \d+ chunks$/,
      );
      expect(Number(/(\d+) msg\/s/.exec(status.message)?.[1])).toBeGreaterThan(0);

      // 3. WATCHDOG=1 keeps coming while samples flow: several since READY, and still after the status line.
      await receiver.waitFor(isPing, 10_000, receiver.datagrams.indexOf(status) + 1);
      expect(receiver.datagrams.filter(isPing).length).toBeGreaterThanOrEqual(3);
      expect(child.logs.some((l) => l.msg === 'chunk sealed')).toBe(true);

      // 4. SIGTERM: STOPPING=1, exit 0, nothing after STOPPING (the watchdog stops first).
      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
      expect(exit, child.tail()).toEqual({ code: 0, signal: null });
      const stopping = await receiver.waitFor((d) => d.message.split('\n').includes('STOPPING=1'), 5_000);
      expect(stopping.message).toBe('STOPPING=1\nSTATUS=draining queues and sealing the open chunk');
      expect(messages().at(-1)).toBe(stopping.message);
      // Every datagram came from the child itself, as NotifyAccess=main requires.
      expect(new Set(receiver.datagrams.map((d) => d.pid))).toEqual(new Set([child.pid]));

      // The last chunk is sealed (sidecar beside every chunk, no .partial) and the session closed.
      const files = await sessionFiles(spool, sessionId);
      expect(files.chunks.length).toBeGreaterThan(0);
      expect(files.unsigned).toEqual([]);
      expect(files.partial).toEqual([]);
      const lastSealed = child.logs
        .filter((l) => l.msg === 'chunk sealed' && l['sessionId'] === sessionId)
        .at(-1);
      expect(lastSealed?.['chunk']).toBe(files.chunks.at(-1));
      const phases = (await sessionStatements(spool, sessionId)).map((s) => s.predicate['phase']);
      expect(phases).toEqual(['open', 'close']);
      const check = await checkSpool(spool);
      expect(check.chunkProblems).toEqual([]);
      expect(check.verify.failures).toEqual([]);
    },
  );

  it(
    'withholds WATCHDOG=1 while the spool disk hangs and resumes once it answers again',
    { timeout: 180_000 },
    async (ctx) => {
      const problem = buildSdNotify();
      if (problem !== null) throw new Error(`cannot build the sd_notify addon (needs gcc): ${problem}`);
      dir = await mkdtemp(join(tmpdir(), 'rigcap-daemon-frozen-'));
      const mounted = mountFreezableDisk(dir, 64);
      if (typeof mounted === 'string') {
        ctx.skip(`needs root, a loop device, mkfs.ext4 and fsfreeze to hang the spool's disk: ${mounted}`);
        return;
      }
      disk = mounted;
      const spool = join(disk.mountPoint, 'spool');
      rig = await startRig();
      const configFile = join(dir, 'rigcap.yaml');
      // Keys live off the frozen disk: only the spool hangs. Chunks outlast the hang, so the drain
      // after it does not rotate on the capture-time gap between stream backlogs.
      writeConfig(configFile, {
        spoolDir: spool,
        keysDir: join(dir, 'secrets'),
        endpoint: rig.endpoint,
        maxDurationMs: 30_000,
      });
      receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
      child = startDaemon(configFile, {
        env: { NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: watchdogUsec },
      });
      await receiver.waitFor((d) => d.message.startsWith('READY=1'), 30_000);
      // Samples reach the file: pings come while it is being written.
      await receiver.waitFor(isPing, 10_000);
      await receiver.waitFor(isPing, 10_000, receiver.datagrams.findIndex(isPing) + 1);

      // fsfreeze blocks every write to the spool in the kernel: the writer is stuck, samples pile up
      // in the queues, the event loop still runs. The watchdog must notice and stop pinging.
      const logsBefore = child.logs.length;
      const stalledSince =
        (ticks: number) =>
        (l: LogLine): boolean =>
          l['code'] === 'RIGCAP_PIPELINE_STALLED' &&
          Number(l['stalledTicks']) >= ticks &&
          child!.logs.indexOf(l) >= logsBefore;
      disk.freeze();
      await child.waitForLog(stalledSince(1), {
        what: 'the watchdog to report a stalled pipeline',
        timeoutMs: 30_000,
      });
      const stalledAt = Date.now();
      const fromIndex = receiver.datagrams.length;
      // A window of three more ping intervals (over 2 × WatchdogSec/2): the timer keeps ticking and
      // says so in the log, but no ping leaves.
      await child.waitForLog(stalledSince(4), { what: 'four stalled watchdog ticks', timeoutMs: 30_000 });
      expect(Date.now() - stalledAt).toBeGreaterThanOrEqual(2_000);
      expect(receiver.datagrams.slice(fromIndex).filter(isPing)).toEqual([]);

      // The disk answers again: writes complete, progress resumes, and so do the pings.
      disk.thaw();
      await receiver.waitFor(isPing, 15_000, fromIndex);
      await child.waitForLog((l) => l.msg === 'pipeline progressing again', {
        what: 'the watchdog to see progress again',
        timeoutMs: 30_000,
      });

      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
      expect(exit, child.tail()).toEqual({ code: 0, signal: null });
      expect(receiver.datagrams.at(-1)?.message).toMatch(/^STOPPING=1\n/);
      expect(new Set(receiver.datagrams.map((d) => d.pid))).toEqual(new Set([child.pid]));
      // The hang lost nothing that was committed: every chunk opens, matches the catalog and verifies.
      const check = await checkSpool(spool);
      expect(check.chunkProblems).toEqual([]);
      expect(check.strayFiles).toEqual([]);
      expect(check.verify.failures).toEqual([]);
    },
  );

  it('never sends READY when the spool cannot be prepared', { timeout: 180_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-daemon-noready-'));
    // A spool path under a regular file: mkdir fails even for root.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const configFile = join(dir, 'rigcap.yaml');
    writeConfig(configFile, {
      spoolDir: join(dir, 'not-a-dir', 'spool'),
      keysDir: join(dir, 'secrets'),
      endpoint: 'tcp://127.0.0.1:9',
    });
    receiver = await startNotifyReceiver(join(dir, 'notify.sock'));
    child = startDaemon(configFile, {
      env: { NOTIFY_SOCKET: receiver.address, WATCHDOG_USEC: watchdogUsec },
    });
    const exit = await child.exited;
    expect(exit.code, child.stderr()).not.toBe(0);
    expect(
      child.logs.some((l) => l['code'] === 'RIGCAP_SPOOL_UNWRITABLE') ||
        child.stderr().includes('RIGCAP_SPOOL_UNWRITABLE'),
      child.stderr(),
    ).toBe(true);
    // Every datagram the child sent before it exited has been read once the test's own marker is.
    await receiver.drain(30_000);
    expect(receiver.datagrams.map((d) => d.message)).toEqual([]);
  });
});

describe('rigcap run outside systemd', () => {
  it(
    'captures, stops and seals normally with NOTIFY_SOCKET unset (the notifier is a no-op)',
    { timeout: 180_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-daemon-plain-'));
      const spool = join(dir, 'spool');
      rig = await startRig();
      const configFile = join(dir, 'rigcap.yaml');
      writeConfig(configFile, { spoolDir: spool, keysDir: join(dir, 'secrets'), endpoint: rig.endpoint });
      // WATCHDOG_USEC without a socket: the watchdog may run, but nothing must be sent or fail.
      child = startDaemon(configFile, { env: { NOTIFY_SOCKET: undefined, WATCHDOG_USEC: watchdogUsec } });
      const started = await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      const sessionId = String(started['sessionId']);
      // Past a couple of watchdog intervals (1 s): chunks rotate every 500 ms, so six sealed chunks
      // span about 3 s of capture with the watchdog running.
      await waitFor(() => child!.logs.filter((l) => l.msg === 'chunk sealed').length >= 6, {
        what: 'six chunks sealed',
        timeoutMs: 60_000,
        detail: () => child!.tail(),
      });
      expect(child.proc.exitCode).toBe(null);
      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
      expect(exit, child.tail()).toEqual({ code: 0, signal: null });
      const notifyTrouble = child.logs.filter((l) => String(l['code'] ?? '').startsWith('RIGCAP_SD_NOTIFY'));
      expect(notifyTrouble).toEqual([]);
      const files = await sessionFiles(spool, sessionId);
      expect(files.chunks.length).toBeGreaterThan(0);
      expect(files.unsigned).toEqual([]);
      expect((await sessionStatements(spool, sessionId)).map((s) => s.predicate['phase'])).toEqual([
        'open',
        'close',
      ]);
    },
  );
});

if (python === undefined) {
  it.skip(
    'rigcap run under systemd: python3 is not installed (apt-get install python3), so no notify socket receiver',
  );
}
