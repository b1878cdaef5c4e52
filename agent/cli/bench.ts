// `rigcap bench capture|sign|deid|sync [--json]`: figures measured in one run as ratios against a
// raw baseline measured in the same run, so noise on a shared machine cancels.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RigcapError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { intFlag, parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

/** One measured figure, as other tools read it. */
export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  target: number | null;
  better: 'higher' | 'lower';
}

export interface BenchReport {
  bench: string;
  figures: BenchFigure[];
  details?: Record<string, unknown>;
}

const mib = 1024 * 1024;

async function benchCaptureFigures(log: Logger, quick: boolean): Promise<BenchReport> {
  const { benchCapture } = await import('../../scripts/bench/capture-bench.ts');
  const { benchMsgRate } = await import('../../scripts/bench/msgrate-bench.ts');
  const dir = await mkdtemp(join(tmpdir(), 'rigcap-bench-capture-'));
  try {
    const throughput = await benchCapture({
      dir,
      frames: quick ? 128 : 512,
      frameBytes: mib,
      chunking: { maxBytes: 64 * mib, maxDurationMs: 3_600_000, zstdLevel: 3, mcapChunkBytes: 4 * mib },
      logger: log,
      rounds: quick ? 1 : 3,
    });
    const msgrate = await benchMsgRate({
      messages: quick ? 20_000 : 100_000,
      payloadBytes: 1024,
      rounds: quick ? 1 : 3,
      log,
    });
    return {
      bench: 'capture',
      figures: [
        {
          name: 'throughput_1mib_ratio',
          value: round(throughput.ratio),
          unit: 'ratio',
          target: 0.9,
          better: 'higher',
        },
        {
          name: 'msgrate_1kib_ratio',
          value: round(msgrate.ratio),
          unit: 'ratio',
          target: 0.7,
          better: 'higher',
        },
      ],
      details: {
        captureMiBPerSec: round(throughput.captureBytesPerSec / mib),
        rawWriteSha256MiBPerSec: round(throughput.rawBytesPerSec / mib),
        agentMsgPerSec: Math.round(msgrate.agentMsgPerSec),
        rawZmqMsgPerSec: Math.round(msgrate.rawMsgPerSec),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchSignFigures(log: Logger, quick: boolean): Promise<BenchReport> {
  const { measureCaptureCost, measureSignCost } = await import('../../scripts/bench/sign-bench.ts');
  // CPU to capture one chunk at the default chunk size (256 MiB of 1 MiB frames) vs CPU to build,
  // sign and durably write its record. Capture is measured on its own (no raw baseline mixed in),
  // scaled by bytes to one full chunk; the two alternate so load drifting during the run weighs on both.
  const chunking = { maxBytes: 256 * mib, maxDurationMs: 3_600_000, zstdLevel: 3, mcapChunkBytes: 4 * mib };
  const rounds = quick ? 1 : 2;
  let captureCpuUs = 0;
  let captureBytes = 0;
  let signCpuUs = 0;
  let records = 0;
  for (let round = 0; round < rounds; round++) {
    const capture = await measureCaptureCost({ frames: quick ? 128 : 256, frameBytes: mib, chunking, log });
    captureCpuUs += capture.cpuUs;
    captureBytes += capture.bytes;
    const sign = await measureSignCost({ chunks: quick ? 50 : 100, log });
    signCpuUs += sign.cpuUs;
    records += sign.records;
  }
  const captureCpuUsPerChunk = (captureCpuUs * chunking.maxBytes) / captureBytes;
  const signCpuUsPerRecord = signCpuUs / records;
  const share = signCpuUsPerRecord / (captureCpuUsPerChunk + signCpuUsPerRecord);
  return {
    bench: 'sign',
    figures: [
      { name: 'sign_cpu_share', value: round(share, 4), unit: 'ratio', target: 0.01, better: 'lower' },
    ],
    details: {
      signCpuUsPerRecord: Math.round(signCpuUsPerRecord),
      captureCpuUsPerChunk: Math.round(captureCpuUsPerChunk),
      chunkBytes: chunking.maxBytes,
      records,
      captureMiB: captureBytes / mib,
    },
  };
}

async function benchDeidFigures(log: Logger, quick: boolean): Promise<BenchReport> {
  const { runDeidBench } = await import('../deid/bench.ts');
  const result = await runDeidBench({ log, ...(quick ? { framesPerRun: 4 } : {}) });
  return {
    bench: 'deid',
    figures: result.figures.map((f) => ({ ...f })),
    ...('details' in result ? { details: (result as { details: Record<string, unknown> }).details } : {}),
  };
}

async function benchSyncFigures(log: Logger): Promise<BenchReport> {
  const { benchSync } = await import('../../scripts/bench/sync-bench.ts');
  return (await benchSync({ log })) as BenchReport;
}

function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function printReport(io: CliIO, r: BenchReport): void {
  io.stdout.write(`bench ${r.bench}\n`);
  for (const f of r.figures) {
    const met = f.target === null ? null : f.better === 'higher' ? f.value >= f.target : f.value <= f.target;
    io.stdout.write(
      `  ${f.name.padEnd(32)} ${String(f.value).padStart(10)} ${f.unit.padEnd(6)} ${f.target === null ? '' : `target ${f.better === 'higher' ? '>=' : '<='} ${f.target}  ${met === true ? 'met' : 'NOT MET'}`}\n`,
    );
  }
  for (const [k, v] of Object.entries(r.details ?? {}))
    io.stdout.write(`  ${k.padEnd(32)} ${JSON.stringify(v)}\n`);
}

const benches = ['capture', 'sign', 'deid', 'sync'] as const;

const command: Command = {
  name: 'bench',
  summary: 'benchmarks as ratios against a raw baseline measured in the same run',
  usage: [
    'usage: rigcap bench capture|sign|deid|sync [--json] [--quick]',
    '  capture  throughput_1mib_ratio (>= 0.90), msgrate_1kib_ratio (>= 0.70)',
    '  sign     sign_cpu_share (<= 0.01)',
    '  deid     fps_1080p_2workers (>= 8), face_recall_ge32 (>= 0.95), plate_recall_ge40 (>= 0.90), overblur_area (<= 0.05)',
    '  sync     goodput_ratio (>= 0.95), resent_parts_per_interruption (<= 1)',
    '  --quick  fewer samples (smoke test)',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseFlags('bench', argv, {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
    });
    const which = positionals[0];
    if (which === undefined || !(benches as readonly string[]).includes(which)) {
      throw new RigcapError('RIGCAP_USAGE', `rigcap bench: name one of ${benches.join(', ')}`);
    }
    intFlag('bench', 'rounds', values.rounds, 3);
    const log = silentLogger();
    if (!values.json) io.stderr.write(`running bench ${which}…\n`);
    const report =
      which === 'capture'
        ? await benchCaptureFigures(log, values.quick)
        : which === 'sign'
          ? await benchSignFigures(log, values.quick)
          : which === 'deid'
            ? await benchDeidFigures(log, values.quick)
            : await benchSyncFigures(log);
    if (values.json) writeJson(io.stdout, report);
    else printReport(io, report);
    return ExitCode.ok;
  },
};

export default command;
