// The rigcap ZeroMQ wire format, parsed without I/O: a message is exactly three frames
// [topic, header-json, payload]. Any bytes give either a ParsedFrame or a FrameParseError; the
// parser never throws, so one bad publisher cannot stop a driver.

/** Largest topic frame accepted, in bytes. */
export const maxTopicBytes = 256;
/** Largest header frame accepted, in bytes (the header is small by design). */
export const maxHeaderBytes = 4096;

const maxUint64 = (1n << 64n) - 1n;
const topicPattern = /^[A-Za-z0-9_/~.-]+$/;
const encodingPattern = /^[a-z0-9][a-z0-9_.+-]{0,31}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The header frame, decoded. Unknown header fields are ignored so publishers can add fields. */
export interface ZmqFrameHeader {
  /** Per-topic publisher sequence, from 0 after each publisher start; gaps are upstream loss. */
  readonly seq: number;
  /** Capture time, ns since the Unix epoch (sent as a decimal string). */
  readonly captureNs: bigint;
  /** Payload encoding: `cdr`, `jpeg`, `json`, … */
  readonly encoding: string;
  /** ROS 2 type (`sensor_msgs/msg/Imu`) or JSON schema id. */
  readonly type: string;
  /** Publisher marks latched topics (tf_static, camera_info); informational. */
  readonly latched: boolean;
}

export interface ParsedFrame {
  readonly ok: true;
  readonly topic: string;
  readonly header: ZmqFrameHeader;
  readonly payload: Uint8Array;
}

/** Which rule a message broke. */
export type FrameParseErrorCode =
  'frame_count' | 'topic_invalid' | 'header_too_large' | 'header_not_json' | 'header_field_invalid';

export interface FrameParseError {
  readonly ok: false;
  readonly code: FrameParseErrorCode;
  /** What exactly was wrong, for logs. */
  readonly cause: string;
  /** The topic, when the topic frame itself was valid (so the drop can be attributed). */
  readonly topic?: string;
}

function fail(code: FrameParseErrorCode, cause: string, topic?: string): FrameParseError {
  return topic === undefined ? { ok: false, code, cause } : { ok: false, code, cause, topic };
}

function decodeTopic(frame: Uint8Array): string | undefined {
  if (frame.byteLength === 0 || frame.byteLength > maxTopicBytes) return undefined;
  let topic: string;
  try {
    topic = utf8.decode(frame);
  } catch (err) {
    // Not UTF-8: the decoder is fatal and throws a TypeError.
    if (!(err instanceof TypeError)) throw err;
    return undefined;
  }
  return topicPattern.test(topic) ? topic : undefined;
}

function parseCaptureNs(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return undefined;
  const ns = BigInt(value);
  return ns <= maxUint64 ? ns : undefined;
}

/**
 * Parses one multipart message; returns a typed error instead of throwing, whatever the bytes.
 * With a `cache`, repeated topics and header shapes skip UTF-8 decoding and JSON.parse; the
 * result is the same either way.
 */
export function parseFrame(frames: readonly Uint8Array[], cache?: FrameCache): ParsedFrame | FrameParseError {
  if (frames.length !== 3)
    return fail('frame_count', `expected 3 frames [topic, header, payload], got ${frames.length}`);
  const [topicFrame, headerFrame, payload] = frames as [Uint8Array, Uint8Array, Uint8Array];
  const topic = cache === undefined ? decodeTopic(topicFrame) : cache.topic(topicFrame);
  if (topic === undefined)
    return fail('topic_invalid', `topic frame must be 1-${maxTopicBytes} bytes of [A-Za-z0-9_/~.-]`);
  if (headerFrame.byteLength > maxHeaderBytes)
    return fail(
      'header_too_large',
      `header frame is ${headerFrame.byteLength} bytes, limit ${maxHeaderBytes}`,
      topic,
    );
  const known = cache?.header(headerFrame);
  if (known !== undefined) return { ok: true, topic, header: known, payload };
  const parsed = parseHeader(headerFrame, topic);
  if (parsed.ok) cache?.learn(headerFrame, parsed.header);
  return parsed.ok ? { ok: true, topic, header: parsed.header, payload } : parsed;
}

function parseHeader(
  headerFrame: Uint8Array,
  topic: string,
): { ok: true; header: ZmqFrameHeader } | FrameParseError {
  let decoded: unknown;
  try {
    decoded = JSON.parse(utf8.decode(headerFrame));
  } catch (err) {
    return fail('header_not_json', `header is not UTF-8 JSON: ${(err as Error).message}`, topic);
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded))
    return fail('header_not_json', 'header must be a JSON object', topic);
  const fields = decoded as Record<string, unknown>;
  const seq = fields['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
    return fail('header_field_invalid', 'seq must be a non-negative safe integer', topic);
  const captureNs = parseCaptureNs(fields['captureNs']);
  if (captureNs === undefined)
    return fail(
      'header_field_invalid',
      'captureNs must be a decimal string of a uint64 (ns since epoch)',
      topic,
    );
  const encoding = fields['encoding'];
  if (typeof encoding !== 'string' || !encodingPattern.test(encoding))
    return fail(
      'header_field_invalid',
      'encoding must be a short lowercase name (cdr, jpeg, json, …)',
      topic,
    );
  const type = fields['type'];
  if (typeof type !== 'string' || type.length === 0 || type.length > 256)
    return fail('header_field_invalid', 'type must be a non-empty string of at most 256 characters', topic);
  const latched = fields['latched'];
  if (latched !== undefined && typeof latched !== 'boolean')
    return fail('header_field_invalid', 'latched must be a boolean when present', topic);
  return { ok: true, header: { seq, captureNs, encoding, type, latched: latched === true } };
}

/** Encodes a message in the wire format (publishers and tests use it; the inverse of parseFrame). */
export function encodeFrame(
  topic: string,
  header: ZmqFrameHeader,
  payload: Uint8Array,
): [Buffer, Buffer, Uint8Array] {
  const json: Record<string, unknown> = {
    seq: header.seq,
    captureNs: header.captureNs.toString(),
    encoding: header.encoding,
    type: header.type,
  };
  if (header.latched) json['latched'] = true;
  return [Buffer.from(topic, 'utf8'), Buffer.from(JSON.stringify(json), 'utf8'), payload];
}

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const seqPrefix = ascii('{"seq":');
const captureNsPrefix = ascii(',"captureNs":"');
const forbiddenInTail = ['\\', '"seq"', '"captureNs"'].map((text) => Buffer.from(text, 'latin1'));
const maxTails = 8;
/** 10n ** k for the digits below the first 11 of captureNs (at most 9). */
const pow10 = Array.from({ length: 10 }, (_, k) => 10n ** BigInt(k));

interface HeaderTail {
  bytes: Uint8Array;
  encoding: string;
  type: string;
  latched: boolean;
}

/**
 * Remembers what repeats from message to message on a socket: topic frames, and the part of the
 * header after `captureNs` (encoding, type, latched, extra fields), which is the same bytes for
 * every message of a topic. Only `{"seq":<int>,"captureNs":"<digits>"` is then read per message.
 * A header is only answered from here when `parseHeader` would give the same result: the tail
 * bytes are identical to one it accepted, and they cannot change seq or captureNs (no escapes,
 * no repeated key).
 */
export class FrameCache {
  #topicBytes: Uint8Array | undefined;
  #topic: string | undefined;
  readonly #tails: HeaderTail[] = [];
  #nextTail = 0;

  /** `decodeTopic`, answered without decoding when the bytes repeat the previous topic. */
  topic(frame: Uint8Array): string | undefined {
    const last = this.#topicBytes;
    if (last !== undefined && sameBytes(frame, 0, last)) return this.#topic;
    const topic = decodeTopic(frame);
    if (topic !== undefined) {
      this.#topicBytes = Uint8Array.from(frame);
      this.#topic = topic;
    }
    return topic;
  }

  /** The header, when it has a known tail; undefined means "parse it the long way". */
  header(frame: Uint8Array): ZmqFrameHeader | undefined {
    if (this.#tails.length === 0 || !startsWith(frame, 0, seqPrefix)) return undefined;
    let at = seqPrefix.byteLength;
    const seqStart = at;
    let seq = 0;
    for (let c = frame[at]; c !== undefined && c >= 0x30 && c <= 0x39; c = frame[++at])
      seq = seq * 10 + (c - 0x30);
    const seqDigits = at - seqStart;
    // JSON: no leading zero; 15 digits stay a safe integer.
    if (seqDigits === 0 || seqDigits > 15 || (seqDigits > 1 && frame[seqStart] === 0x30)) return undefined;
    if (!startsWith(frame, at, captureNsPrefix)) return undefined;
    at += captureNsPrefix.byteLength;
    const nsStart = at;
    let high = 0;
    let low = 0;
    for (let c = frame[at]; c !== undefined && c >= 0x30 && c <= 0x39; c = frame[++at]) {
      // The last nine digits go to `low`, the rest to `high` (at most 11 digits, exact as a double).
      if (at - nsStart < 11) high = high * 10 + (c - 0x30);
      else low = low * 10 + (c - 0x30);
    }
    const nsDigits = at - nsStart;
    if (nsDigits === 0 || nsDigits > 20 || frame[at] !== 0x22) return undefined;
    at += 1;
    const tail = this.#findTail(frame, at);
    if (tail === undefined) return undefined;
    const captureNs = nsDigits <= 11 ? BigInt(high) : BigInt(high) * pow10[nsDigits - 11]! + BigInt(low);
    if (captureNs > maxUint64) return undefined;
    return { seq, captureNs, encoding: tail.encoding, type: tail.type, latched: tail.latched };
  }

  /** Remembers the tail of a header `parseHeader` accepted, when it is safe to reuse. */
  learn(frame: Uint8Array, header: ZmqFrameHeader): void {
    const start = tailStart(frame);
    if (start < 0 || this.#findTail(frame, start) !== undefined) return;
    const bytes = frame.slice(start);
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (forbiddenInTail.some((needle) => view.includes(needle))) return;
    const entry = { bytes, encoding: header.encoding, type: header.type, latched: header.latched };
    if (this.#tails.length < maxTails) this.#tails.push(entry);
    else this.#tails[(this.#nextTail = (this.#nextTail + 1) % maxTails)] = entry;
  }

  #findTail(frame: Uint8Array, at: number): HeaderTail | undefined {
    const length = frame.byteLength - at;
    for (const tail of this.#tails) {
      if (tail.bytes.byteLength === length && sameBytes(frame, at, tail.bytes)) return tail;
    }
    return undefined;
  }
}

/** Where the tail starts (just after the closing quote of captureNs), or -1 for another shape. */
function tailStart(frame: Uint8Array): number {
  if (!startsWith(frame, 0, seqPrefix)) return -1;
  let at = seqPrefix.byteLength;
  while (isDigit(frame[at])) at++;
  if (!startsWith(frame, at, captureNsPrefix)) return -1;
  at += captureNsPrefix.byteLength;
  while (isDigit(frame[at])) at++;
  return frame[at] === 0x22 ? at + 1 : -1;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function startsWith(frame: Uint8Array, at: number, prefix: Uint8Array): boolean {
  if (frame.byteLength - at < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (frame[at + i] !== prefix[i]) return false;
  return true;
}

/** Whether `frame` from `at` to its end equals `bytes`. */
function sameBytes(frame: Uint8Array, at: number, bytes: Uint8Array): boolean {
  return frame.byteLength - at === bytes.byteLength && startsWith(frame, at, bytes);
}
