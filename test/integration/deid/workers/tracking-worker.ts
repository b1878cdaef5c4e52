// A de-id worker that stands in for a detector on a still camera, speaking the stream-scan
// protocol: it hands on its thumbnail, asks for the frame before it (to report the camera's motion
// from it: none), reports one face at a fixed box unless the frame's first byte is 0 (the detector
// misses it there; a second byte makes it take that many 10 ms), then, when its plan says so, asks
// for its fill from the frames around it. It answers `BLURRED` + the face boxes it blurred, so a
// test can tell a frame filled from its neighbours, and its report with the filled boxes counted
// (as the real worker's result carries it).
import { parentPort } from 'node:worker_threads';
import { identityAffine } from '../../../../agent/deid/affine.ts';
import type { FaceScanPlan, FaceScanReport, FrameSignature } from '../../../../agent/deid/face-scan.ts';
import type { PixelBox } from '../../../../agent/deid/geometry.ts';
import type { PoolMessage, WorkerReply } from '../../../../agent/deid/worker-protocol.ts';

const face: PixelBox = { x: 10, y: 10, w: 20, h: 20 };
const thumbnail: FrameSignature = {
  frameWidth: 64,
  frameHeight: 64,
  width: 4,
  height: 4,
  grey: new Uint8Array(16),
};
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const post = (reply: WorkerReply): void => parentPort?.postMessage(reply);

interface Job {
  readonly plan: FaceScanPlan;
  readonly seen: boolean;
  report?: FaceScanReport;
}
const jobs = new Map<number, Job>();

function result(id: number, boxes: readonly PixelBox[], filled = 0): void {
  const report = jobs.get(id)?.report;
  jobs.delete(id);
  post({
    type: 'result',
    id,
    data: Buffer.concat([Buffer.from('BLURRED'), Buffer.from(JSON.stringify(boxes))]),
    detections: boxes.map((box) => ({ kind: 'face' as const, box, score: 0.9 })),
    ...(report === undefined ? {} : { faceScan: { ...report, filled: { face: filled, plate: 0 } } }),
    ms: 1,
  });
}

function report(id: number, job: Job, reference: FrameSignature | null): void {
  const confirmed = job.seen ? [{ box: face, score: 0.9 }] : [];
  const faceScan: FaceScanReport = {
    confirmed,
    verdicts: [],
    signature: thumbnail,
    full: true,
    cut: false,
    changed: false,
    tilesScanned: 1,
    tilesTotal: 1,
    verifications: 0,
    screened: 0,
    plates: [],
    platesNear: [],
    motion: reference?.frame === undefined ? null : { from: reference.frame, affine: identityAffine },
    filled: { face: 0, plate: 0 },
  };
  job.report = faceScan;
  post({ type: 'report', id, report: faceScan });
  if (job.plan.fill === 'ask') post({ type: 'ask', id, need: 'fill' });
  else result(id, job.seen ? [face] : []);
}

parentPort?.on('message', (message: PoolMessage) => {
  if (message.type === 'retire') return parentPort?.close();
  if (message.type === 'job') {
    const seen = message.data[0] !== 0;
    // The second byte, if any, makes the job busy for that many 10 ms (as inference would: it takes no other job meanwhile).
    const busyMs = (message.data[1] ?? 0) * 10;
    if (busyMs > 0) Atomics.wait(sleeper, 0, 0, busyMs);
    // A still image (the start-up self-test) gets a face and a plate, as a real detector finds there.
    if (message.plan === undefined) {
      post({
        type: 'result',
        id: message.id,
        data: Buffer.from('BLURRED'),
        detections: [
          { kind: 'face', box: face, score: 0.9 },
          { kind: 'plate', box: { x: 40, y: 40, w: 16, h: 8 }, score: 0.9 },
        ],
        ms: 1,
      });
      return;
    }
    const job = { plan: message.plan, seen };
    jobs.set(message.id, job);
    post({ type: 'signature', id: message.id, signature: thumbnail });
    if (message.plan.reference === 'ask') post({ type: 'ask', id: message.id, need: 'reference' });
    else report(message.id, job, message.plan.reference);
  } else if (message.type === 'reference') {
    const job = jobs.get(message.id);
    if (job !== undefined) report(message.id, job, message.reference);
  } else if (message.type === 'fill') {
    const job = jobs.get(message.id);
    if (job !== undefined)
      result(message.id, [...(job.seen ? [face] : []), ...message.fill.face], message.fill.face.length);
  }
});
post({ type: 'ready' });
