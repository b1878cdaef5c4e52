// `rigcap bench capture|sign|deid|sync [--json]`: figures measured in one run as ratios against a
// baseline measured in the same run, so noise on a shared machine cancels. The benches live in
// scripts/bench/ and are imported only when asked for.
import { RigcapError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { BenchFigure, BenchReport } from '../../scripts/bench/figures.ts';
import { intFlag, parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

export type { BenchFigure, BenchReport };

async function benchCaptureFigures(log: Logger, quick: boolean, pairs: number): Promise<BenchReport> {
  const { captureReport } = await import('../../scripts/bench/reports.ts');
  return captureReport(quick ? { log, frames: 64, pairs: 1, messages: 50_000 } : { log, pairs });
}

async function benchSignFigures(log: Logger, quick: boolean): Promise<BenchReport> {
  const { signReport } = await import('../../scripts/bench/reports.ts');
  return signReport(quick ? { log, records: 10 } : { log });
}

/** The de-id bench prints its own report: a figure it could not measure says so instead of a value. */
async function runDeidBenchCommand(
  log: Logger,
  o: { quick: boolean; json: boolean },
  io: CliIO,
): Promise<number> {
  const { runDeidBench, formatDeidReport, quickDeidBench } = await import('../../scripts/bench/deid.ts');
  const report = await runDeidBench({
    log,
    progress: (line) => io.stderr.write(`${line}\n`),
    ...(o.quick ? quickDeidBench : {}),
  });
  if (o.json) writeJson(io.stdout, report);
  else io.stdout.write(formatDeidReport(report));
  return ExitCode.ok;
}

async function benchSyncFigures(log: Logger, quick: boolean, env: NodeJS.ProcessEnv): Promise<BenchReport> {
  const { syncReport } = await import('../../scripts/bench/sync-bench.ts');
  return syncReport(quick ? { log, env, chunks: 2, chunkBytes: 8 * 1024 * 1024 } : { log, env });
}

/** The store bench's flags: how many devices, how long, and engines to use instead of starting them. */
interface StoreFlags {
  devices?: string | undefined;
  seconds?: string | undefined;
  db?: string | undefined;
  blobs?: string | undefined;
  's3-endpoint'?: string | undefined;
}

async function benchStoreFigures(
  log: Logger,
  quick: boolean,
  values: StoreFlags,
  env: NodeJS.ProcessEnv,
): Promise<BenchReport> {
  const { storeReport } = await import('../../scripts/bench/store-bench.ts');
  return storeReport({
    log,
    env,
    devices: intFlag('bench', 'devices', values.devices, quick ? 2 : 50),
    seconds: intFlag('bench', 'seconds', values.seconds, quick ? 2 : 20),
    ...(quick ? { chunksPerDevice: 1, chunkBytes: 256 * 1024 } : {}),
    ...(values.db === undefined ? {} : { db: values.db }),
    ...(values.blobs === undefined ? {} : { blobs: values.blobs }),
    ...(values['s3-endpoint'] === undefined ? {} : { s3Endpoint: values['s3-endpoint'] }),
  });
}

function printReport(io: CliIO, r: BenchReport): void {
  io.stdout.write(`bench ${r.bench}\n`);
  for (const f of r.figures) {
    const met = f.target === null ? null : f.better === 'higher' ? f.value >= f.target : f.value <= f.target;
    const verdict = f.failed !== undefined ? `FAILED: ${f.failed}` : met === true ? 'met' : 'NOT MET';
    io.stdout.write(
      `  ${f.name.padEnd(36)} ${String(f.value).padStart(10)} ${f.unit.padEnd(6)} ${f.target === null ? '' : `target ${f.better === 'higher' ? '>=' : '<='} ${f.target}  ${verdict}`}\n`,
    );
  }
  for (const [k, v] of Object.entries(r.details ?? {}))
    io.stdout.write(`  ${k.padEnd(36)} ${JSON.stringify(v)}\n`);
}

const benches = ['capture', 'sign', 'deid', 'sync', 'store'] as const;

const command: Command = {
  name: 'bench',
  summary: 'benchmarks as ratios against a baseline measured in the same run',
  usage: [
    'usage: rigcap bench capture|sign|deid|sync|store [--json] [--quick]',
    '  capture  throughput_1mib_ratio (>= 0.90), throughput_1mib_compressible_ratio (>= 0.90), msgrate_1kib_ratio (>= 0.70)',
    '  sign     sign_cpu_share (<= 0.01), per rig: sign_cpu_share_camera_rig, sign_cpu_share_imu_gnss_rig',
    '  deid     fps_1080p_2workers (>= 8), face_recall_ge32 (>= 0.95), face_recall_24_32, face_recall_16_24, plate_recall_ge40 (>= 0.90),',
    '           plate_recall_15_40, overblur_area (<= 0.05) on the evaluation video (*_tuning: the tuning video);',
    '           spill_catchup_ratio, frames_lost (0) for two 1080p cameras at 15 fps in spill mode',
    '  sync     goodput_ratio (>= 0.95), resent_parts_per_interruption (<= 1); needs root, unshare and tc',
    '  store    records_per_s (>= 1000), ingest_goodput_ratio (>= 0.8), receipt_p99_ms, receiver_rss_mb: devices',
    '           syncing through 2 receivers on PostgreSQL + S3 (started here unless --db/--blobs are given)',
    '           [--devices N (50)] [--seconds S (20)] [--db URL --blobs s3://B[/P] [--s3-endpoint URL]]',
    '  --quick  fewer samples (smoke test)',
    '  --rounds N  paired rounds per capture figure (default 3)',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('bench', argv, {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      devices: { type: 'string' },
      seconds: { type: 'string' },
      db: { type: 'string' },
      blobs: { type: 'string' },
      's3-endpoint': { type: 'string' },
    });
    const which = positionals[0];
    if (which === undefined || !(benches as readonly string[]).includes(which)) {
      throw new RigcapError('RIGCAP_USAGE', `rigcap bench: name one of ${benches.join(', ')}`);
    }
    const pairs = intFlag('bench', 'rounds', values.rounds, 3);
    const log = silentLogger();
    if (!values.json) io.stderr.write(`running bench ${which}…\n`);
    if (which === 'deid') return runDeidBenchCommand(log, values, io);
    const report =
      which === 'capture'
        ? await benchCaptureFigures(log, values.quick, pairs)
        : which === 'sign'
          ? await benchSignFigures(log, values.quick)
          : which === 'store'
            ? await benchStoreFigures(log, values.quick, values, io.env)
            : await benchSyncFigures(log, values.quick, io.env);
    if (values.json) writeJson(io.stdout, report);
    else printReport(io, report);
    const unavailable = report.details?.['unavailable'];
    if (typeof unavailable === 'string') {
      // No figure rather than a made-up one: the bench cannot run on this machine.
      io.stderr.write(`bench ${which}: cannot run here: ${unavailable}\n`);
      return ExitCode.failed;
    }
    const { summaryLine } = await import('../../scripts/bench/figures.ts');
    io.stderr.write(`${summaryLine(report)}\n`);
    return report.figures.some((f) => f.failed !== undefined) ? ExitCode.failed : ExitCode.ok;
  },
};

export default command;
