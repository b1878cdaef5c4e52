// The de-id bench's worker entry: the production worker (agent/deid/worker.ts) as it is, plus a copy
// of each result's detections sent to the bench on a BroadcastChannel, so recall is scored on what
// the production pipeline blurred. Frames are named by a JPEG comment the bench adds (decoders
// ignore it); frames without one (the stage's self-test) are not reported.
import { BroadcastChannel, parentPort, type TransferListItem } from 'node:worker_threads';
import type { PoolMessage, WorkerReply } from '../../agent/deid/worker-protocol.ts';

/** The channel the bench listens on. */
export const tapChannelName = 'rigcap-bench-deid-tap';
/** JPEG comment text that names a bench frame: the prefix, then the frame's tag in decimal. */
export const frameTagPrefix = 'rigcap-bench-frame:';

/** What the tap reports for one frame. */
export interface TapReport {
  readonly tag: number;
  readonly detections: Extract<WorkerReply, { type: 'result' }>['detections'];
  readonly ms: number;
}

/** The tag in a bench frame's first bytes (a CDR header may come before the JPEG), or undefined. */
export function frameTag(data: Uint8Array): number | undefined {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, 512)).toString('latin1');
  const at = head.indexOf(frameTagPrefix);
  if (at < 0) return undefined;
  const digits = /^\d+/.exec(head.slice(at + frameTagPrefix.length));
  return digits === null ? undefined : Number(digits[0]);
}

/** A JPEG with a comment segment naming it `tag`, right after its start marker. */
export function tagJpeg(jpeg: Uint8Array, tag: number): Uint8Array {
  const text = Buffer.from(`${frameTagPrefix}${tag}`, 'latin1');
  const out = new Uint8Array(jpeg.byteLength + 4 + text.byteLength);
  out.set(jpeg.subarray(0, 2), 0);
  out.set([0xff, 0xfe, ((text.byteLength + 2) >> 8) & 0xff, (text.byteLength + 2) & 0xff], 2);
  out.set(text, 6);
  out.set(jpeg.subarray(2), 6 + text.byteLength);
  return out;
}

const port = parentPort;
if (port !== null) {
  const channel = new BroadcastChannel(tapChannelName);
  const tags = new Map<number, number>();
  const on = port.on.bind(port);
  port.on = ((event: string, listener: (message: PoolMessage) => void) =>
    event === 'message'
      ? on('message', (message: PoolMessage) => {
          if (message.type === 'job') {
            const tag = frameTag(message.data);
            if (tag !== undefined) tags.set(message.id, tag);
          }
          listener(message);
        })
      : on(event, listener)) as typeof port.on;
  const post = port.postMessage.bind(port);
  port.postMessage = ((reply: WorkerReply, transfer?: readonly TransferListItem[]) => {
    if (reply.type === 'result' || reply.type === 'job-error') {
      const tag = tags.get(reply.id);
      tags.delete(reply.id);
      if (tag !== undefined && reply.type === 'result')
        channel.postMessage({ tag, detections: reply.detections, ms: reply.ms } satisfies TapReport);
    }
    post(reply, transfer);
  }) as typeof port.postMessage;
  await import('../../agent/deid/worker.ts');
}
