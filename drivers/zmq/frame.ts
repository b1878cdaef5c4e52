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
  | 'frame_count'
  | 'topic_invalid'
  | 'header_too_large'
  | 'header_not_json'
  | 'header_field_invalid';

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
  } catch {
    return undefined;
  }
  return topicPattern.test(topic) ? topic : undefined;
}

function parseCaptureNs(value: unknown): bigint | undefined {
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) return undefined;
  const ns = BigInt(value);
  return ns <= maxUint64 ? ns : undefined;
}

/** Parses one multipart message; returns a typed error instead of throwing, whatever the bytes. */
export function parseFrame(frames: readonly Uint8Array[]): ParsedFrame | FrameParseError {
  if (frames.length !== 3) return fail('frame_count', `expected 3 frames [topic, header, payload], got ${frames.length}`);
  const [topicFrame, headerFrame, payload] = frames as [Uint8Array, Uint8Array, Uint8Array];
  const topic = decodeTopic(topicFrame);
  if (topic === undefined) return fail('topic_invalid', `topic frame must be 1-${maxTopicBytes} bytes of [A-Za-z0-9_/~.-]`);
  if (headerFrame.byteLength > maxHeaderBytes) return fail('header_too_large', `header frame is ${headerFrame.byteLength} bytes, limit ${maxHeaderBytes}`, topic);
  let decoded: unknown;
  try {
    decoded = JSON.parse(utf8.decode(headerFrame));
  } catch (err) {
    return fail('header_not_json', `header is not UTF-8 JSON: ${(err as Error).message}`, topic);
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return fail('header_not_json', 'header must be a JSON object', topic);
  const fields = decoded as Record<string, unknown>;
  const seq = fields['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return fail('header_field_invalid', 'seq must be a non-negative safe integer', topic);
  const captureNs = parseCaptureNs(fields['captureNs']);
  if (captureNs === undefined) return fail('header_field_invalid', 'captureNs must be a decimal string of a uint64 (ns since epoch)', topic);
  const encoding = fields['encoding'];
  if (typeof encoding !== 'string' || !encodingPattern.test(encoding)) return fail('header_field_invalid', 'encoding must be a short lowercase name (cdr, jpeg, json, …)', topic);
  const type = fields['type'];
  if (typeof type !== 'string' || type.length === 0 || type.length > 256) return fail('header_field_invalid', 'type must be a non-empty string of at most 256 characters', topic);
  const latched = fields['latched'];
  if (latched !== undefined && typeof latched !== 'boolean') return fail('header_field_invalid', 'latched must be a boolean when present', topic);
  return { ok: true, topic, header: { seq, captureNs, encoding, type, latched: latched === true }, payload };
}

/** Encodes a message in the wire format (publishers and tests use it; the inverse of parseFrame). */
export function encodeFrame(topic: string, header: ZmqFrameHeader, payload: Uint8Array): [Buffer, Buffer, Uint8Array] {
  const json: Record<string, unknown> = { seq: header.seq, captureNs: header.captureNs.toString(), encoding: header.encoding, type: header.type };
  if (header.latched) json['latched'] = true;
  return [Buffer.from(topic, 'utf8'), Buffer.from(JSON.stringify(json), 'utf8'), payload];
}
