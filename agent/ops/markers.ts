// Event markers: an operator (`rigcap mark`), the ops HTTP endpoint or the robot's own software
// (ZeroMQ control socket) says "something happened now". The inbox validates and stamps each mark
// and hands it to listeners the agent wires: the open chunk (MCAP metadata) and the signed records.
import { randomUUID } from 'node:crypto';
import { RigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';

export type MarkSource = 'cli' | 'http' | 'zmq';

/** A validated, stamped event marker. */
export interface EventMark {
  id: string;
  text: string;
  tags: string[];
  source: MarkSource;
  /** Wall time of the event (the sender's, when it gave one), ns. */
  wallNs: bigint;
  /** Monotonic time the agent received it, ns (orders marks against samples). */
  monoNs: bigint;
  /** Who made the mark (`rigcap mark --operator NAME`), signed into its record. */
  operator?: string;
}

/** What a sender supplies; `wallNs` is a decimal string of ns when the sender knows the event time. */
export interface MarkRequest {
  text: string;
  tags?: string[];
  wallNs?: string;
  operator?: string;
}

const maxTextChars = 1000;
const maxTags = 16;
const maxOperatorChars = 256;
const tagPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Checks an untrusted mark request; throws RIGCAP_MARK_INVALID naming the first problem. */
export function parseMarkRequest(input: unknown): MarkRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    invalid('the mark must be a JSON object');
  const body = input as Record<string, unknown>;
  const text = body['text'];
  if (typeof text !== 'string' || text.trim() === '') invalid('`text` must be a non-empty string');
  if (text.length > maxTextChars) invalid(`\`text\` is longer than ${maxTextChars} characters`);
  const tags = body['tags'] ?? [];
  if (!Array.isArray(tags) || tags.length > maxTags)
    invalid(`\`tags\` must be a list of at most ${maxTags} tags`);
  for (const tag of tags) {
    if (typeof tag !== 'string' || !tagPattern.test(tag))
      invalid(`tag ${JSON.stringify(tag)} must match ${tagPattern.source}`);
  }
  const request: MarkRequest = { text, tags: tags as string[] };
  const wallNs = body['wallNs'];
  if (wallNs !== undefined) {
    if (typeof wallNs !== 'string' || !/^\d{1,20}$/.test(wallNs))
      invalid('`wallNs` must be a decimal string of nanoseconds');
    request.wallNs = wallNs;
  }
  const operator = body['operator'];
  if (operator !== undefined) {
    if (typeof operator !== 'string' || operator.trim() === '' || operator.length > maxOperatorChars)
      invalid(`\`operator\` must be a non-empty string of at most ${maxOperatorChars} characters`);
    request.operator = operator;
  }
  return request;
}

function invalid(message: string): never {
  throw new RigcapError('RIGCAP_MARK_INVALID', message);
}

/** MCAP metadata record for a mark (name `rigcap.marker`; values are strings as MCAP requires). */
export function markMetadata(mark: EventMark): { name: string; metadata: Map<string, string> } {
  return {
    name: 'rigcap.marker',
    metadata: new Map([
      ['id', mark.id],
      ['text', mark.text],
      ['tags', mark.tags.join(',')],
      ['source', mark.source],
      ['wallNs', mark.wallNs.toString()],
      ['monoNs', mark.monoNs.toString()],
      ...(mark.operator === undefined ? [] : ([['operator', mark.operator]] as const)),
    ]),
  };
}

/** JSON form of a mark (ns as decimal strings), as the HTTP endpoint answers it. */
export function markToJson(mark: EventMark): Record<string, unknown> {
  return { ...mark, wallNs: mark.wallNs.toString(), monoNs: mark.monoNs.toString() };
}

export type MarkListener = (mark: EventMark) => void | Promise<void>;

export interface MarkerInboxOptions {
  log: Logger;
  /** Clocks, injected by tests. */
  wallNs?: () => bigint;
  monoNs?: () => bigint;
}

/** Accepts marks from every control channel and fans them out to the agent's listeners. */
export class MarkerInbox {
  readonly #log: Logger;
  readonly #wallNs: () => bigint;
  readonly #monoNs: () => bigint;
  readonly #listeners = new Set<MarkListener>();

  constructor(options: MarkerInboxOptions) {
    this.#log = options.log;
    this.#wallNs = options.wallNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.#monoNs = options.monoNs ?? (() => process.hrtime.bigint());
  }

  /** Registers a listener; returns its unsubscribe function. */
  onMark(listener: MarkListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Validates and stamps a mark, then awaits every listener. Throws RIGCAP_MARK_INVALID. */
  async submit(input: unknown, source: MarkSource): Promise<EventMark> {
    const request = parseMarkRequest(input);
    const mark: EventMark = {
      id: randomUUID(),
      text: request.text,
      tags: request.tags ?? [],
      source,
      wallNs: request.wallNs === undefined ? this.#wallNs() : BigInt(request.wallNs),
      monoNs: this.#monoNs(),
      ...(request.operator === undefined ? {} : { operator: request.operator }),
    };
    this.#log.info({ marker: mark.id, source, tags: mark.tags, text: mark.text }, 'event marker');
    for (const listener of this.#listeners) {
      try {
        await listener(mark);
      } catch (err) {
        // One failing sink (e.g. no open chunk) must not lose the mark for the others.
        this.#log.error({ marker: mark.id, err }, 'event marker listener failed');
      }
    }
    return mark;
  }
}
