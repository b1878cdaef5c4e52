// `rigcap demo`: the simulated rig, the agent and a receiver on loopback in one command. Captures
// for N seconds, blurs the cameras, signs every chunk, syncs to the store, verifies both sides and
// prints a summary. Running it again on the same DIR continues: same keys and chain, a new session.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startSimRig, simRigStreams } from '../../scripts/sim-rig/index.ts';
import { startReceiver, type ReceiverHandle } from '../../receiver/server.ts';
import { loadConfigFile } from '../config/load.ts';
import { Daemon } from '../daemon.ts';
import { RigcapError } from '../errors.ts';
import { FsSource } from '../keys/fs-source.ts';
import { createLogger, type Logger } from '../log.ts';
import { verifyTree, type VerifyReport } from '../records/index.ts';
import type { SyncConfig } from '../config/types.ts';
import { openSyncService, syncUntilEmpty } from '../sync/sync-service.ts';
import { intFlag, parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The demo's agent config: the sim rig's streams, calibration, sync to the given store. */
export function demoConfig(options: {
  dir: string;
  endpoint: string;
  storeUrl: string;
  enrollToken: string;
  /** The store's keyid to pin (the demo's own receiver); absent: the first key seen is trusted. */
  storeKey?: string;
  seconds: number;
  /** Per-frame de-id deadline (deid.timeoutMs); the default suits real hardware, not emulation. */
  deidTimeoutMs?: number;
}): Record<string, unknown> {
  const streams = simRigStreams({ endpoint: options.endpoint, socket: 'sub' }).map((s) =>
    // Cameras go through de-id frame by frame: a short queue keeps latency and shutdown bounded.
    s.type.endsWith('CompressedImage') ? { ...s, queue: { ...s.queue, size: 16 } } : s,
  );
  const calibDir = join(repoRoot, 'config', 'calibration', 'sim');
  return {
    version: 1,
    rig: { id: 'demo-rig', description: 'rigcap demo: simulated rig on loopback' },
    spool: { dir: join(options.dir, 'agent'), budgetBytes: '8GiB', minFreeBytes: '256MiB' },
    keys: { dir: join(options.dir, 'secrets') },
    streams,
    chunking: {
      maxBytes: '32MiB',
      maxDurationMs: Math.max(2000, Math.round((options.seconds * 1000) / 3)),
      zstdLevel: 3,
    },
    policy: { residency: 'local-demo', retentionDays: 30, purpose: 'rigcap demo', owner: 'demo operator' },
    calibration: {
      files: readdirSync(calibDir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()
        .map((f) => join(calibDir, f)),
      watchIntervalMs: 0,
    },
    timesync: { chrony: true, ptp: false, sampleIntervalMs: 1000 },
    deid: {
      enabled: true,
      workers: 2,
      maxPending: 4,
      timeoutMs: options.deidTimeoutMs ?? 30_000,
      // Start-up (model load, warm-up, self-test) is bounded by no less than one frame's deadline:
      // under emulation it takes minutes.
      selfTestTimeoutMs: Math.max(60_000, options.deidTimeoutMs ?? 0),
    },
    sync: {
      enabled: true,
      storeUrl: options.storeUrl,
      enrollToken: options.enrollToken,
      ...(options.storeKey === undefined ? { trustOnFirstUse: true } : { storeKey: options.storeKey }),
      partBytes: '4MiB',
      concurrency: 2,
    },
    ops: { listen: '127.0.0.1:0', heartbeatIntervalMs: 5000 },
  };
}

interface DemoSummary {
  ok: boolean;
  dir: string;
  sessionId: string | null;
  seconds: number;
  streams: Array<{
    name: string;
    published: number;
    received: number;
    written: number;
    drops: Record<string, number>;
  }>;
  chunks: number;
  deid: {
    framesIn: number;
    framesWithDetections: number;
    faces: number;
    plates: number;
    failed: number;
    dropped: number;
  };
  sync: { storeUrl: string; synced: number; refused: number; backlogChunks: number; backlogRecords: number };
  verify: {
    agent: Pick<VerifyReport, 'ok' | 'checked' | 'failures'>;
    store: Pick<VerifyReport, 'ok' | 'checked' | 'failures'> | null;
  };
}

function prepareDirs(dir: string): void {
  mkdirSync(join(dir, 'agent'), { recursive: true });
  mkdirSync(join(dir, 'store'), { recursive: true });
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  chmodSync(join(dir, 'secrets'), 0o700);
}

function say(io: CliIO, json: boolean, line: string): void {
  if (!json || io.stderr.isTTY === true) io.stderr.write(`${line}\n`);
}

/** The demo's own store on loopback: the device enrols with its token, then signs every request. */
function startDemoReceiver(dir: string, enrollToken: string, log: Logger): Promise<ReceiverHandle> {
  return startReceiver({
    dataDir: join(dir, 'store'),
    host: '127.0.0.1',
    port: 0,
    keyFile: join(dir, 'secrets', 'store.key'),
    enrollTokens: [enrollToken],
    log,
    requireSignatures: true,
  });
}

/** What the demo's final sync needs from its config. */
function syncOf(config: { sync: SyncConfig; spool: { dir: string } }): {
  sync: SyncConfig;
  spoolDir: string;
} {
  return { sync: config.sync, spoolDir: config.spool.dir };
}

/** The demo's flags, checked. */
function demoFlags(
  values: {
    json: boolean;
    out?: string;
    seconds?: string;
    'deid-timeout-ms'?: string;
    'store-url'?: string;
    'enroll-token'?: string;
  },
  io: CliIO,
): { json: boolean; dir: string; seconds: number; deidTimeoutMs: number } {
  const json = values.json;
  const dir = resolve(io.cwd, values.out ?? 'rigcap-demo');
  const seconds = intFlag('demo', 'seconds', values.seconds, 10);
  const deidTimeoutMs = intFlag('demo', 'deid-timeout-ms', values['deid-timeout-ms'], 5000);
  if (seconds < 1) throw new RigcapError('RIGCAP_USAGE', 'rigcap demo: --seconds must be at least 1');
  if (
    (values['store-url'] === undefined) !== (values['enroll-token'] === undefined) &&
    values['store-url'] !== undefined &&
    values['enroll-token'] === undefined
  ) {
    throw new RigcapError('RIGCAP_USAGE', 'rigcap demo: --store-url needs --enroll-token');
  }
  return { json, dir, seconds, deidTimeoutMs };
}

/** Sends what the stopped agent left unsent, with its device key, until nothing is left. */
async function syncBacklog(
  sync: ReturnType<typeof syncOf>,
  daemon: Daemon,
  log: Logger,
  signal: AbortSignal,
): Promise<Awaited<ReturnType<typeof syncUntilEmpty>>> {
  const service = openSyncService({ ...sync, log, signer: () => daemon.agent.sealer?.signer });
  const drained = await syncUntilEmpty({ service, timeoutMs: 180_000, signal });
  await service.close();
  return drained;
}

/** Captures for `seconds` (or until aborted), printing progress once a second. */
async function captureFor(daemon: Daemon, seconds: number, io: CliIO, json: boolean): Promise<void> {
  const startedMs = Date.now();
  while (Date.now() - startedMs < seconds * 1000 && !io.signal.aborted) {
    await new Promise((r) => setTimeout(r, 1000));
    const snap = daemon.snapshot();
    const msgs = snap.streams.reduce((n, s) => n + s.received, 0);
    const mb = snap.streams.reduce((n, s) => n + s.bytes, 0) / 1048576;
    say(
      io,
      json,
      `  ${String(Math.round((Date.now() - startedMs) / 1000)).padStart(3)} s  ${msgs} messages, ${mb.toFixed(1)} MiB written, ${snap.session.chunks} chunks sealed, de-id ${snap.deid.fps} fps, backlog ${snap.sync.backlogChunks}`,
    );
  }
}

/** The demo's summary from what the rig published, the agent counted, sync sent and verify found. */
function summaryOf(m: {
  dir: string;
  seconds: number;
  storeUrl: string;
  config: { streams: ReadonlyArray<{ name: string; topic: string }> };
  daemon: Daemon;
  published: Record<string, number>;
  totals: ReturnType<Daemon['agent']['ledger']['totals']>;
  deid: DemoSummary['deid'];
  drained: Awaited<ReturnType<typeof syncUntilEmpty>>;
  agentReport: VerifyReport;
  storeReport: VerifyReport | null;
}): DemoSummary {
  const { daemon, drained, agentReport, storeReport, published, totals } = m;
  const brief = (r: VerifyReport): Pick<VerifyReport, 'ok' | 'checked' | 'failures'> => ({
    ok: r.ok,
    checked: r.checked,
    failures: r.failures,
  });
  return {
    ok: agentReport.ok && (storeReport?.ok ?? true) && drained.empty,
    dir: m.dir,
    sessionId: daemon.agent.sessionId ?? null,
    seconds: m.seconds,
    streams: m.config.streams.map((s) => {
      const t = totals.get(s.name);
      return {
        name: s.name,
        published: published[s.topic] ?? 0,
        received: t?.received ?? 0,
        written: t?.written ?? 0,
        drops: Object.fromEntries(
          Object.entries(t?.drops ?? {}).filter((e): e is [string, number] => (e[1] ?? 0) > 0),
        ),
      };
    }),
    chunks: daemon.agent.sessionChunks,
    deid: m.deid,
    sync: {
      storeUrl: m.storeUrl,
      synced: drained.synced,
      refused: drained.refused,
      backlogChunks: drained.backlog.chunks,
      backlogRecords: drained.backlog.records,
    },
    verify: { agent: brief(agentReport), store: storeReport === null ? null : brief(storeReport) },
  };
}

const command: Command = {
  name: 'demo',
  summary: 'simulated rig + agent + receiver on loopback: capture, blur, sign, sync, verify',
  usage: [
    'usage: rigcap demo [--out DIR] [--seconds N] [--store-url URL --enroll-token T] [--json]',
    '  --out DIR        demo folder (default ./rigcap-demo): DIR/agent spool, DIR/store, DIR/secrets (0700)',
    '  --seconds N      capture time (default 10)',
    '  --deid-timeout-ms N  per-frame de-id deadline (default 5000; raise it under emulation); de-id start-up gets at least as long (default 60000)',
    '  --store-url URL  sync to this receiver instead of a local one (with --enroll-token)',
    '  --json           print the summary as one JSON document',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('demo', argv, {
      out: { type: 'string' },
      seconds: { type: 'string' },
      'deid-timeout-ms': { type: 'string' },
      'store-url': { type: 'string' },
      'enroll-token': { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const { json, dir, seconds, deidTimeoutMs } = demoFlags(values, io);
    prepareDirs(dir);
    // Logs go to a file so the terminal shows the demo's own progress; the summary names it.
    const logFile = join(dir, 'demo.log');
    const log = createLogger({ json: true, file: logFile });
    const continuing = existsSync(join(dir, 'agent', 'catalog.sqlite'));
    say(
      io,
      json,
      `rigcap demo in ${dir}${continuing ? ' (continuing: same keys and chain, new session)' : ''}; logs in ${logFile}`,
    );

    const enrollToken = values['enroll-token'] ?? randomBytes(16).toString('hex');
    const receiver =
      values['store-url'] === undefined ? await startDemoReceiver(dir, enrollToken, log) : undefined;
    const storeUrl = values['store-url'] ?? receiver!.url;
    // The rig holds its first message until the agent subscribes, so nothing (tf_static!) is lost to a slow join.
    const rig = await startSimRig({ endpoint: 'tcp://127.0.0.1:0', socket: 'pub', waitForSubscribers: 1 });
    let summary: DemoSummary | undefined;
    try {
      const configFile = join(dir, 'rigcap.yaml');
      writeFileSync(
        configFile,
        `# written by rigcap demo; \`rigcap status --config ${configFile}\` reads it\n${stringify(demoConfig({ dir, endpoint: rig.endpoint, storeUrl, enrollToken, seconds, deidTimeoutMs, ...(receiver === undefined ? {} : { storeKey: receiver.key.signer.keyId }) }))}`,
      );
      const { config, digest } = loadConfigFile(configFile);
      const daemon = new Daemon({ config, configDigest: digest, log, env: {} });
      say(
        io,
        json,
        `sim rig on ${rig.endpoint}, store at ${storeUrl}; starting the agent (loads and self-tests the de-id models)`,
      );
      await daemon.start(io.signal);
      say(io, json, `capturing for ${seconds} s; status page ${daemon.url ?? '(off)'}`);
      await captureFor(daemon, seconds, io, json);
      await rig.stop();
      // Let the last published messages cross the socket before intake stops, so the counts balance.
      await new Promise((r) => setTimeout(r, 500));
      say(io, json, 'stopping: drain queues, blur held frames, seal the open chunk, close the session');
      // The agent stops first with de-id completed: every frame held for de-id is blurred into the
      // session (however long that takes) before it closes and before the backlog is synced below.
      await daemon.agent.stop({
        timeoutMs: 60_000,
        reason: 'demo end',
        deid: 'complete',
        onDeidProgress: (held) => say(io, json, `  de-id catching up: ${held} frames still held`),
      });
      await daemon.stop({ timeoutMs: 60_000, reason: 'demo end' });
      const published = rig.published();
      const totals = daemon.agent.ledger.totals();
      const deid = daemon.agent.deidTotals;

      say(io, json, 'syncing the backlog to the store');
      const drained = await syncBacklog(syncOf(config), daemon, log, io.signal);

      say(io, json, 'verifying the agent spool and the store');
      const agentReport = await verifyTree(new FsSource(config.spool.dir));
      const storeReport = receiver === undefined ? null : await verifyTree(new FsSource(join(dir, 'store')));
      summary = summaryOf({
        dir,
        seconds,
        storeUrl,
        config,
        daemon,
        published,
        totals,
        deid,
        drained,
        agentReport,
        storeReport,
      });
    } finally {
      await rig.stop();
      await receiver?.close();
    }
    if (json) writeJson(io.stdout, summary);
    else io.stdout.write(formatSummary(summary));
    return summary.ok ? ExitCode.ok : ExitCode.failed;
  },
};

/** The human summary printed at the end of the demo. */
export function formatSummary(s: DemoSummary): string {
  const lines = ['', `session ${s.sessionId ?? '-'}: ${s.chunks} chunks in ${s.seconds} s`, ''];
  lines.push(
    `${'stream'.padEnd(20)} ${'published'.padStart(9)} ${'received'.padStart(9)} ${'written'.padStart(8)}  drops`,
  );
  for (const x of s.streams) {
    const drops =
      Object.entries(x.drops)
        .map(([c, n]) => `${c}=${n}`)
        .join(' ') || '-';
    lines.push(
      `${x.name.padEnd(20)} ${String(x.published).padStart(9)} ${String(x.received).padStart(9)} ${String(x.written).padStart(8)}  ${drops}`,
    );
  }
  lines.push('');
  lines.push(
    `de-id      ${s.deid.framesIn} frames in, ${s.deid.framesWithDetections} with detections, ${s.deid.faces} faces and ${s.deid.plates} plates blurred, ${s.deid.failed} failed, ${s.deid.dropped} dropped`,
  );
  lines.push(
    `sync       ${s.sync.synced} items synced to ${s.sync.storeUrl}, ${s.sync.refused} refused, backlog ${s.sync.backlogChunks} chunks / ${s.sync.backlogRecords} records`,
  );
  const v = (name: string, r: DemoSummary['verify']['agent'] | null): string =>
    r === null
      ? `verify     ${name}: skipped (remote store)`
      : `verify     ${name}: ${r.ok ? 'OK' : 'FAILED'} (${r.checked.chunks} chunks, ${r.checked.records} records, ${r.checked.sessions} sessions)${r.failures
          .slice(0, 5)
          .map((f) => `\n             ${f.code} ${f.file}: ${f.reason}`)
          .join('')}`;
  lines.push(v('agent spool', s.verify.agent));
  lines.push(v('store', s.verify.store));
  lines.push(
    '',
    s.ok
      ? `demo OK: everything captured was signed, synced and verified (${s.dir})`
      : `demo FAILED (${s.dir})`,
  );
  return `${lines.join('\n')}\n`;
}

export default command;
