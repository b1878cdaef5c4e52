// `rigcap calib history`: how each extrinsic moved over time, from the spool's calibration history.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CalibrationRegistry } from '../calib/calibration-registry.ts';
import { extrinsicDrift } from '../calib/drift-history.ts';
import {
  MemoryCalibrationHistoryStore,
  calibrationHistoryFileName,
  openSpoolCalibrationHistory,
} from '../calib/history-store.ts';
import type { ExtrinsicDrift } from '../calib/types.ts';
import { loadConfigFile } from '../config/load.ts';
import { RigcapError } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap calib history [--config FILE | --spool DIR] [--json]

Shows how each extrinsic (sensor pair) moved between calibration versions: one row per version,
with the translation change in mm and the rotation change in degrees against the previous one.
  --spool DIR    read DIR/${calibrationHistoryFileName}
  --config FILE  use the config's spool; without recorded history, show the files as they are now
  --json         print { ok, source, entries: [{ sensor, pair, version, atNs, translationMm, rotationDeg }] }`;

/** Drift rows from a spool's history, or from the config's files when nothing is recorded yet. */
async function readDrift(options: {
  spool: string | undefined;
  config: string | undefined;
  cwd: string;
}): Promise<{ source: string; drift: ExtrinsicDrift[] }> {
  let spool = options.spool === undefined ? undefined : resolve(options.cwd, options.spool);
  let files: readonly string[] = [];
  if (options.config !== undefined) {
    const { config } = loadConfigFile(resolve(options.cwd, options.config));
    spool = config.spool.dir;
    files = config.calibration.files;
  }
  if (spool === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'calib history needs --config FILE or --spool DIR');
  if (existsSync(join(spool, calibrationHistoryFileName))) {
    const history = openSpoolCalibrationHistory(spool, { readonly: true });
    try {
      return { source: join(spool, calibrationHistoryFileName), drift: extrinsicDrift(history.store.all()) };
    } finally {
      history.close();
    }
  }
  if (options.config === undefined)
    throw new RigcapError(
      'RIGCAP_NOT_FOUND',
      `no calibration history in ${spool} (${calibrationHistoryFileName})`,
    );
  const registry = new CalibrationRegistry({
    logger: silentLogger(),
    store: new MemoryCalibrationHistoryStore(),
  });
  await registry.load(files);
  return { source: 'calibration files (no history recorded yet)', drift: registry.drift() };
}

function fixed(value: number | null, digits: number): string {
  return value === null ? '—' : value.toFixed(digits);
}

/** The human table: sensor, pair, version, time, Δt mm, Δr deg. */
export function driftTable(drift: readonly ExtrinsicDrift[]): string {
  const rows = [
    ['sensor', 'pair', 'version', 'time (UTC)', 'Δt mm', 'Δr deg'],
    ...drift.map((d) => [
      d.sensor,
      d.pair,
      String(d.version),
      new Date(Number(d.atNs / 1_000_000n)).toISOString(),
      fixed(d.translationMm, 2),
      fixed(d.rotationDeg, 3),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'history')
    throw new RigcapError('RIGCAP_USAGE', `unknown calib subcommand '${sub ?? ''}'\n${usage}`);
  let values: { config?: string | undefined; spool?: string | undefined; json?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: { config: { type: 'string' }, spool: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    throw new RigcapError('RIGCAP_USAGE', `${(err as Error).message}\n${usage}`);
  }
  if ((values.config === undefined) === (values.spool === undefined))
    throw new RigcapError('RIGCAP_USAGE', `give exactly one of --config or --spool\n${usage}`);
  const { source, drift } = await readDrift({ spool: values.spool, config: values.config, cwd: io.cwd });
  if (values.json === true) {
    const entries = drift.map((d) => ({ ...d, atNs: String(d.atNs) }));
    io.stdout.write(`${JSON.stringify({ ok: true, source, entries })}\n`);
  } else {
    io.stdout.write(`${source}\n${driftTable(drift)}\n`);
  }
  return ExitCode.ok;
}

const command: Command = {
  name: 'calib',
  summary: 'calibration history: how each extrinsic moved over time',
  usage,
  run,
};
export default command;
