// Group commit: submissions that arrive while a batch is being admitted wait together and go in
// the next batch, so one transaction (one lock, one set of round trips, one checkpoint) serves many
// records. Batches and any other exclusive job run one at a time, in order.

/** One item's outcome in a batch: its answer, or the refusal for it alone. */
export type ItemOutcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/** Queues items and admits them in batches of at most `maxBatch`. */
export class GroupCommit<I, O> {
  readonly #run: (items: I[]) => Promise<Array<ItemOutcome<O>>>;
  readonly #maxBatch: number;
  #waiting: Array<Waiting<I, O>> = [];
  #flushQueued = false;
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * `run` admits one batch and answers each item (same order); when it throws, every item of the
   * batch gets that error.
   */
  constructor(run: (items: I[]) => Promise<Array<ItemOutcome<O>>>, options: { maxBatch: number }) {
    this.#run = run;
    this.#maxBatch = options.maxBatch;
  }

  /** Items queued for a batch that has not started yet. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Queues one item; resolves with its outcome once its batch has committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#queueFlush();
    });
  }

  /** Runs fn when no batch is running, before the batches queued after it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Settles once every batch and job queued so far has finished. */
  async drain(): Promise<void> {
    for (let seen: Promise<unknown> | undefined; seen !== this.#tail;) {
      seen = this.#tail;
      await seen;
    }
  }

  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    void this.exclusive(() => this.#flush());
  }

  async #flush(): Promise<void> {
    // Let submissions already on their way (answers of the last batch sending their next record)
    // join this batch instead of the one after it.
    await new Promise((resolve) => setImmediate(resolve));
    this.#flushQueued = false;
    const batch = this.#waiting.splice(0, this.#maxBatch);
    if (this.#waiting.length > 0) this.#queueFlush();
    if (batch.length === 0) return;
    let outcomes: Array<ItemOutcome<O>>;
    try {
      outcomes = await this.#run(batch.map((w) => w.item));
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    for (const [i, w] of batch.entries()) {
      const outcome = outcomes[i];
      if (outcome === undefined) w.reject(new Error('the batch gave no answer for an item'));
      else if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    }
  }
}
