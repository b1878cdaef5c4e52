// DiskBudget: watches spool usage against spool.budgetBytes and the filesystem's free space, and
// tells the pipeline what to do: shed low-priority streams first, then pause capture. It never
// deletes anything itself (unsynced data is never deleted); ENOSPC from a write counts as full,
// and capture resumes by itself once a check finds room again.
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../errors.ts';
import type { Logger } from '../log.ts';

export type DiskPressure = 'ok' | 'shed' | 'paused';

/** What status and metrics show. */
export interface DiskBudgetSnapshot {
  pressure: DiskPressure;
  usedBytes: number;
  budgetBytes: number;
  freeBytes: number;
  minFreeBytes: number;
  /** Streams with this priority or lower (higher number) are shed; null when none is. */
  shedFromPriority: number | null;
  /** A write failed with ENOSPC since the last check that found room. */
  enospc: boolean;
}

/** Share of the budget at which low-priority streams are shed. */
const shedRatio = 0.85;
/** Priority from which streams are shed (0 highest … 9 lowest). */
const shedPriority = 5;

/** Bytes under a directory (regular files). */
/** `value` when `err` says the file is gone (ENOENT); any other failure is rethrown. */
function absent<T>(err: unknown, value: T): T {
  if (!isErrno(err, 'ENOENT')) throw err;
  return value;
}

export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    // Removed while the walk ran (retention, recovery): it holds nothing now.
    if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(p);
    else if (e.isFile()) total += (await stat(p).catch((err: unknown) => absent(err, { size: 0 }))).size;
  }
  return total;
}

/** Free bytes for unprivileged writers on the filesystem holding `dir`. */
export async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

export class DiskBudget {
  readonly #o: {
    spoolDir: string;
    budgetBytes: number;
    minFreeBytes: number;
    usage: (dir: string) => Promise<number>;
    free: (dir: string) => Promise<number>;
    onChange: (s: DiskBudgetSnapshot) => void;
  };
  readonly #log: Logger;
  #snapshot: DiskBudgetSnapshot;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    spoolDir: string;
    budgetBytes: number;
    minFreeBytes: number;
    log: Logger;
    usage?: (dir: string) => Promise<number>;
    free?: (dir: string) => Promise<number>;
    onChange?: (s: DiskBudgetSnapshot) => void;
  }) {
    this.#o = {
      spoolDir: options.spoolDir,
      budgetBytes: options.budgetBytes,
      minFreeBytes: options.minFreeBytes,
      usage: options.usage ?? directoryBytes,
      free: options.free ?? freeBytesOf,
      onChange: options.onChange ?? (() => undefined),
    };
    this.#log = options.log.child({ component: 'disk-budget' });
    this.#snapshot = {
      pressure: 'ok',
      usedBytes: 0,
      budgetBytes: options.budgetBytes,
      freeBytes: Number.MAX_SAFE_INTEGER,
      minFreeBytes: options.minFreeBytes,
      shedFromPriority: null,
      enospc: false,
    };
  }

  /** The last assessment. */
  snapshot(): DiskBudgetSnapshot {
    return { ...this.#snapshot };
  }

  /** Whether a stream of `priority` may write now. */
  admits(priority: number): boolean {
    const s = this.#snapshot;
    if (s.pressure === 'paused') return false;
    return s.shedFromPriority === null || priority < s.shedFromPriority;
  }

  /** A write hit ENOSPC: pause capture until a check finds room. */
  reportEnospc(): void {
    if (this.#snapshot.enospc) return;
    this.#set({ ...this.#snapshot, enospc: true, pressure: 'paused', shedFromPriority: 0 });
  }

  /** Measures usage and free space and updates the pressure. */
  async check(): Promise<DiskBudgetSnapshot> {
    const usedBytes = await this.#o.usage(this.#o.spoolDir);
    const freeBytes = await this.#o.free(this.#o.spoolDir);
    const { budgetBytes, minFreeBytes } = this.#o;
    // After ENOSPC, ask for twice the reserve before resuming so capture does not flap at the edge.
    const roomAfterEnospc = freeBytes >= 2 * minFreeBytes && freeBytes > 0;
    const enospc = this.#snapshot.enospc && !roomAfterEnospc;
    let pressure: DiskPressure = 'ok';
    if (enospc || usedBytes >= budgetBytes || freeBytes < minFreeBytes) pressure = 'paused';
    else if (usedBytes >= shedRatio * budgetBytes || freeBytes < 2 * minFreeBytes) pressure = 'shed';
    const shedFromPriority = pressure === 'paused' ? 0 : pressure === 'shed' ? shedPriority : null;
    this.#set({ pressure, usedBytes, freeBytes, budgetBytes, minFreeBytes, shedFromPriority, enospc });
    return this.snapshot();
  }

  #set(next: DiskBudgetSnapshot): void {
    const changed = next.pressure !== this.#snapshot.pressure;
    this.#snapshot = next;
    if (changed) {
      const fields = {
        pressure: next.pressure,
        usedBytes: next.usedBytes,
        freeBytes: next.freeBytes,
        enospc: next.enospc,
      };
      if (next.pressure === 'ok') this.#log.info(fields, 'disk budget: capture resumes');
      else
        this.#log.warn(
          { ...fields, code: 'RIGCAP_DISK_FULL' },
          `disk budget: ${next.pressure === 'shed' ? 'shedding low-priority streams' : 'capture paused'}`,
        );
      this.#o.onChange(this.snapshot());
    }
  }

  /** Checks every `intervalMs` until close(). */
  start(options: { intervalMs: number }): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.check().catch((err: unknown) => this.#log.error({ err }, 'disk budget check failed'));
    }, options.intervalMs);
    this.#timer.unref();
  }

  /** Stops checking (idempotent). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
