// Growth of monotonic counters over a recent window, from whenever someone looks (a status poll,
// the daemon's STATUS= line). A figure over "the last ten seconds" says what is happening now;
// a rate between two arbitrary polls, or since start, hides a stall or a burst.

/** Counters as of one look. */
type Counters<K extends string> = Readonly<Record<K, number>>;

/** How much each counter grew over the window, and how long that window really was. */
export interface WindowGrowth<K extends string> {
  readonly spanMs: number;
  readonly delta: Counters<K>;
}

/** Remembers looks at counters for `windowMs` and answers their growth over it. */
export class RecentWindow<K extends string> {
  readonly #windowMs: number;
  readonly #points: Array<{ atMs: number; values: Counters<K> }> = [];

  /** `origin`: the counters' known start (all zero at the agent's start), so a first look has a baseline. */
  constructor(options: { windowMs: number; origin?: { atMs: number; values: Counters<K> } }) {
    this.#windowMs = options.windowMs;
    if (options.origin !== undefined) this.#points.push(options.origin);
  }

  /** Records `values` as of `nowMs`; returns their growth since the oldest look kept. */
  look(values: Counters<K>, nowMs: number): WindowGrowth<K> {
    // Keep the newest look older than the window as the baseline, so the span covers the window.
    while (this.#points.length >= 2 && this.#points[1]!.atMs <= nowMs - this.#windowMs) this.#points.shift();
    const base = this.#points[0];
    const last = this.#points.at(-1);
    // Rapid polling (several pages open) must not grow the list: one point per 250 ms is plenty.
    if (last === undefined || nowMs - last.atMs >= 250) this.#points.push({ atMs: nowMs, values });
    const delta = {} as Record<K, number>;
    for (const key of Object.keys(values) as K[])
      delta[key] = Math.max(0, values[key] - (base?.values[key] ?? values[key]));
    return { spanMs: base === undefined ? 0 : Math.max(0, nowMs - base.atMs), delta };
  }
}
