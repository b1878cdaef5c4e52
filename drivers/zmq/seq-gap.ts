// Upstream loss from publisher sequence numbers, per topic. Pure: fed seqs, answers how many
// messages were missed before each one.

/** What one observed seq means for a topic. */
export interface SeqObservation {
  /** Messages missing between the previous seq and this one. */
  readonly lost: number;
  /** True when the seq went backwards or repeated: the publisher restarted, counting starts over. */
  readonly restarted: boolean;
}

/** The common answers, shared: one is returned per message, so none is allocated. */
const inOrder: SeqObservation = Object.freeze({ lost: 0, restarted: false });
const restart: SeqObservation = Object.freeze({ lost: 0, restarted: true });

/**
 * Counts gaps in per-topic publisher sequences. Loss is counted from the first message seen on a
 * topic (what came before the agent joined is not loss it can know about). A seq that does not
 * move forward is taken as a publisher restart: the baseline resets and nothing is counted.
 */
export class SeqGapTracker {
  readonly #lastSeqByTopic = new Map<string, number>();

  /** Records `seq` for `topic` and returns how many messages were lost just before it. */
  observe(topic: string, seq: number): SeqObservation {
    const last = this.#lastSeqByTopic.get(topic);
    this.#lastSeqByTopic.set(topic, seq);
    if (last === undefined || seq === last + 1) return inOrder;
    if (seq <= last) return restart;
    return { lost: seq - last - 1, restarted: false };
  }

  /** Forgets every topic (after a reconnect to a different publisher). */
  reset(): void {
    this.#lastSeqByTopic.clear();
  }
}
