// The dashboard's small index: one row per session (device, site, time span, size, score) and the
// seqs of its device records, so list pages never read a session's files and a session page reads
// only its own. Held in memory; StoreReader fills it from the store, tests may fill it directly.

export interface SessionRow {
  sessionId: string;
  deviceId: string;
  /** The operator's site name for the device, else the residency its records sign. */
  site: string;
  startNs: bigint;
  /** The close record's end, else the latest chunk's end; null before any chunk. */
  endNs: bigint | null;
  chunks: number;
  bytes: bigint;
  closed: boolean;
  /** Readiness score 0–100 (null until computed). */
  score: number | null;
  /** Seqs of the device's records of this session (open, chunks, markers, close). */
  seqs: number[];
}

export interface DeviceRow {
  deviceId: string;
  sessions: number;
  lastStartNs: bigint;
  /** Mean score of its scored sessions (null when none is scored). */
  meanScore: number | null;
  sites: string[];
}

export interface SessionFilter {
  device?: string;
  site?: string;
  /** Sessions overlapping [fromNs, toNs]. */
  fromNs?: bigint;
  toNs?: bigint;
  minScore?: number;
  maxScore?: number;
  offset: number;
  limit: number;
}

/** Sessions by id, listed newest first. */
export class SessionIndex {
  readonly #rows = new Map<string, SessionRow>();
  #sorted: SessionRow[] | undefined;
  #devices: DeviceRow[] | undefined;

  /** Adds or replaces a row. */
  put(row: SessionRow): void {
    this.#rows.set(row.sessionId, row);
    this.#sorted = undefined;
    this.#devices = undefined;
  }

  get(sessionId: string): SessionRow | undefined {
    return this.#rows.get(sessionId);
  }

  get size(): number {
    return this.#rows.size;
  }

  #byStart(): SessionRow[] {
    this.#sorted ??= [...this.#rows.values()].sort((a, b) =>
      a.startNs === b.startNs ? a.sessionId.localeCompare(b.sessionId) : a.startNs > b.startNs ? -1 : 1,
    );
    return this.#sorted;
  }

  /** One page of the sessions matching the filter, and how many match in all. */
  query(f: SessionFilter): { total: number; rows: SessionRow[] } {
    const match = (r: SessionRow): boolean =>
      (f.device === undefined || r.deviceId === f.device) &&
      (f.site === undefined || r.site === f.site) &&
      (f.toNs === undefined || r.startNs <= f.toNs) &&
      (f.fromNs === undefined || (r.endNs ?? r.startNs) >= f.fromNs) &&
      (f.minScore === undefined || (r.score !== null && r.score >= f.minScore)) &&
      (f.maxScore === undefined || (r.score !== null && r.score <= f.maxScore));
    const rows: SessionRow[] = [];
    let total = 0;
    for (const r of this.#byStart()) {
      if (!match(r)) continue;
      if (total >= f.offset && rows.length < f.limit) rows.push(r);
      total++;
    }
    return { total, rows };
  }

  /** Every device with its session count, newest session and mean score. */
  devices(): DeviceRow[] {
    if (this.#devices !== undefined) return this.#devices;
    const acc = new Map<string, DeviceRow & { scoreSum: number; scored: number }>();
    for (const r of this.#rows.values()) {
      const d = acc.get(r.deviceId) ?? {
        deviceId: r.deviceId,
        sessions: 0,
        lastStartNs: r.startNs,
        meanScore: null,
        sites: [],
        scoreSum: 0,
        scored: 0,
      };
      d.sessions++;
      if (r.startNs > d.lastStartNs) d.lastStartNs = r.startNs;
      if (r.score !== null) {
        d.scoreSum += r.score;
        d.scored++;
      }
      if (!d.sites.includes(r.site)) d.sites.push(r.site);
      acc.set(r.deviceId, d);
    }
    this.#devices = [...acc.values()]
      .map(({ scoreSum, scored, ...d }) => ({
        ...d,
        sites: d.sites.sort(),
        meanScore: scored === 0 ? null : Math.round((scoreSum / scored) * 10) / 10,
      }))
      .sort((a, b) => a.deviceId.localeCompare(b.deviceId));
    return this.#devices;
  }

  /** Every site named by a session. */
  sites(): string[] {
    return [...new Set(this.devices().flatMap((d) => d.sites))].sort();
  }
}
