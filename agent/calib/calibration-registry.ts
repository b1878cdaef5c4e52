// Loads the rig's calibration files, content-addresses them, gives each sensor a monotonic version
// and watches the files so a changed calibration starts a new chunk rather than mislabelling one.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { RigcapError, errnoCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CalibrationRef } from '../records/predicates.ts';
import { parseCalibration } from './calibration-parser.ts';
import { extrinsicDrift } from './drift-history.ts';
import type { CalibrationHistoryStore } from './history-store.ts';
import type {
  CalibrationAttachment,
  CalibrationIssue,
  CalibrationSet,
  ExtrinsicDrift,
  SensorCalibration,
} from './types.ts';

export interface CalibrationRegistryOptions {
  logger: Logger;
  store: CalibrationHistoryStore;
  /** Wall clock in ns (injectable for tests). */
  wallNs?: () => bigint;
}

/** What a watch reports when the files changed and the new set is valid. */
export interface CalibrationChange {
  previous: CalibrationSet;
  current: CalibrationSet;
  /** Sensors whose digest changed. */
  changedSensors: string[];
  /** Extrinsic movements introduced by this change. */
  drift: ExtrinsicDrift[];
}

export interface CalibrationWatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  onChange(change: CalibrationChange): void;
  /** A changed file that no longer validates: the previous set stays current. */
  onInvalid?(error: RigcapError): void;
}

/** The sensor a calibration file describes: its base name without `.yaml`/`.yml`. */
export function sensorOfFile(path: string): string {
  return basename(path, extname(path));
}

/** sha256 over `"<sensor> <sha256>\n"` lines sorted by sensor: one digest for the whole rig. */
export function rigDigestOf(sensors: ReadonlyArray<{ sensor: string; sha256: string }>): string {
  const lines = [...sensors]
    .sort((a, b) => (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0))
    .map((s) => `${s.sensor} ${s.sha256}\n`)
    .join('');
  return createHash('sha256').update(lines).digest('hex');
}

/** Loads, validates, versions and watches the rig's calibration files. */
export class CalibrationRegistry {
  readonly #log: Logger;
  readonly #store: CalibrationHistoryStore;
  readonly #wallNs: () => bigint;
  #files: string[] = [];
  #current: CalibrationSet | undefined;

  constructor(options: CalibrationRegistryOptions) {
    this.#log = options.logger;
    this.#store = options.store;
    this.#wallNs = options.wallNs ?? (() => BigInt(Date.now()) * 1_000_000n);
  }

  /** Reads and validates every file (all problems at once), assigns versions, and makes it current. */
  async load(files: readonly string[]): Promise<CalibrationSet> {
    const set = this.#version(await readAndValidate(files));
    this.#files = [...files];
    this.#current = set;
    this.#log.info(
      { rigDigest: set.rigDigest, sensors: set.sensors.map((s) => `${s.sensor}@${s.version}`) },
      'calibration loaded',
    );
    return set;
  }

  /** The set loaded last. */
  current(): CalibrationSet {
    if (this.#current === undefined)
      throw new RigcapError('RIGCAP_INTERNAL', 'calibration read before load()');
    return this.#current;
  }

  /** MCAP attachments for every chunk: `calibration/<sensor>.yaml` with the file's exact bytes. */
  attachments(): CalibrationAttachment[] {
    return this.current().sensors.map((s) => ({
      name: s.name,
      mediaType: 'application/yaml',
      data: s.bytes,
    }));
  }

  /** The capture-chunk record's calibration refs: `{ sensor, digest, version }`. */
  refs(): CalibrationRef[] {
    return this.current().sensors.map((s) => ({ sensor: s.sensor, digest: s.sha256, version: s.version }));
  }

  /** Every extrinsic movement on record (for `rigcap calib history`). */
  drift(): ExtrinsicDrift[] {
    return extrinsicDrift(this.#store.all());
  }

  /** Re-reads the files every intervalMs until the signal aborts; reports valid changes. */
  watch(options: CalibrationWatchOptions): void {
    if (options.intervalMs <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      try {
        await this.checkForChange(options);
      } finally {
        if (!options.signal.aborted) timer = setTimeout(() => void tick(), options.intervalMs);
      }
    };
    options.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    timer = setTimeout(() => void tick(), options.intervalMs);
  }

  /** One watch step: re-reads the files and, if any digest changed and all validate, switches set. */
  async checkForChange(
    options: Pick<CalibrationWatchOptions, 'onChange' | 'onInvalid'>,
  ): Promise<CalibrationChange | undefined> {
    const previous = this.current();
    let loaded: Loaded[];
    try {
      loaded = await readAndValidate(this.#files);
    } catch (err) {
      const error =
        err instanceof RigcapError
          ? err
          : new RigcapError('RIGCAP_CALIB_UNREADABLE', String(err), { cause: err });
      this.#log.error(
        { code: error.code, err: error.message },
        'calibration changed but is not usable; keeping the previous one',
      );
      options.onInvalid?.(error);
      return undefined;
    }
    const before = new Map(previous.sensors.map((s) => [s.sensor, s.sha256]));
    const changedSensors = loaded.filter((l) => before.get(l.sensor) !== l.sha256).map((l) => l.sensor);
    if (changedSensors.length === 0 && loaded.length === previous.sensors.length) return undefined;
    const versionsBefore = this.#store.all().length;
    const current = this.#version(loaded);
    this.#current = current;
    const newRows = new Set(
      this.#store
        .all()
        .slice(versionsBefore)
        .map((r) => `${r.sensor}@${r.version}`),
    );
    const drift = this.drift().filter(
      (d) => newRows.has(`${d.sensor}@${d.version}`) && d.translationMm !== null,
    );
    for (const d of drift) {
      this.#log.warn(
        {
          sensor: d.sensor,
          pair: d.pair,
          version: d.version,
          translationMm: d.translationMm,
          rotationDeg: d.rotationDeg,
        },
        'extrinsic calibration moved',
      );
    }
    const change = { previous, current, changedSensors, drift };
    options.onChange(change);
    return change;
  }

  #version(loaded: Loaded[]): CalibrationSet {
    const atNs = this.#wallNs();
    const sensors: SensorCalibration[] = loaded.map((l) => {
      const latest = this.#store.latest(l.sensor);
      let version = latest?.version ?? 0;
      if (latest?.sha256 !== l.sha256) {
        version += 1;
        this.#store.append({
          sensor: l.sensor,
          version,
          sha256: l.sha256,
          kind: l.kind,
          recordedAtNs: atNs,
          extrinsics: l.extrinsics,
        });
      }
      return { ...l, version };
    });
    return { rigDigest: rigDigestOf(sensors), sensors, loadedAtNs: atNs };
  }
}

type Loaded = Omit<SensorCalibration, 'version'>;

async function readAndValidate(files: readonly string[]): Promise<Loaded[]> {
  const unreadable: string[] = [];
  const issues: CalibrationIssue[] = [];
  const loaded: Loaded[] = [];
  const seen = new Map<string, string>();
  for (const path of files) {
    const sensor = sensorOfFile(path);
    const other = seen.get(sensor);
    if (other !== undefined) {
      issues.push({
        file: path,
        path: '(file)',
        message: `names the same sensor '${sensor}' as ${other}`,
        fix: 'give each sensor one file; the base name is the sensor name',
      });
      continue;
    }
    seen.set(sensor, path);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch (err) {
      unreadable.push(`${path} (${errnoCode(err) ?? String(err)})`);
      continue;
    }
    const parsed = parseCalibration(path, bytes);
    issues.push(...parsed.issues);
    if (parsed.kind === undefined || parsed.issues.length > 0) continue;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    loaded.push({
      sensor,
      name: `calibration/${sensor}.yaml`,
      path,
      bytes,
      sha256,
      kind: parsed.kind,
      extrinsics: parsed.extrinsics,
    });
  }
  if (unreadable.length > 0)
    throw new RigcapError(
      'RIGCAP_CALIB_UNREADABLE',
      `cannot read calibration file${unreadable.length === 1 ? '' : 's'}: ${unreadable.join(', ')}`,
    );
  if (issues.length > 0) {
    const lines = issues.map((i) => `  - ${i.file}: ${i.path}: ${i.message} (fix: ${i.fix})`);
    throw new RigcapError(
      'RIGCAP_CALIB_INVALID',
      `calibration has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
      {
        details: { issues },
      },
    );
  }
  return loaded;
}
