// The spill-mode promise at full size, through the whole Agent with the production de-id: 60 s of
// two 1080p cameras at 15 fps (1,800 frames of the de-id evaluation video, which has real faces and
// plates with ground truth) on this machine's cores. Checked from outside the de-id code:
// - no frame lost: every frame published is in a chunk, at its capture time;
// - every frame in the chunks went through de-id, judged from the output pixels: every labelled face
//   of 32 px or more has lost most of its detail where it was drawn, plates of 40 px or more at the
//   detector's recall (at least 0.90), and no frame with a face still holds its original JPEG's bytes;
// - the holding area never holds more than its budget (its own count and the files on disk);
// - while capture runs, no file of the spool outside the chunks holds a plaintext JPEG.
// Heavy: minutes of both cores (RIGCAP_HEAVY_TESTS=1; CI runs it after the suite).
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { decodeImageSample } from '../../../agent/deid/image-codec.ts';
import { silentLogger } from '../../../agent/log.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { deidVideo, type GroundTruth, type SyntheticFrame } from '../../../scripts/bench/deid-video.ts';
import { compressedImageMessage, encodeCdr } from '../../../scripts/sim-rig/messages.ts';
import { heavySkipReason } from '../../support/heavy.ts';
import { openImageMcap } from '../../support/image-recording.ts';

const fps = 15;
const seconds = 60;
const cameras = ['front', 'rear'] as const;
const type = 'sensor_msgs/msg/CompressedImage';
const startNs = 1_700_000_000_000_000_000n;
const periodNs = 1_000_000_000n / BigInt(fps);
/** A labelled region counts as blurred when its detail (mean absolute Laplacian) fell below this share. */
const blurredDetail = 0.5;

let root: string;
let video: SyntheticFrame[];
/** Which video frame each camera published at each tick: `${topic} ${logTime}` → frame index. */
const published = new Map<string, number>();

const topicOf = (camera: string): string => `/camera/${camera}/image/compressed`;

beforeAll(async () => {
  if (heavySkipReason !== undefined) return;
  root = await mkdtemp(join(tmpdir(), 'rigcap-spill-rig-'));
  video = [];
  for await (const f of deidVideo({ set: 'evaluation' })) video.push(f);
  await writeRig(join(root, 'rig.mcap'));
}, 600_000);
afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

/** Two cameras, 15 fps for 60 s, each cycling the evaluation video (the rear one half a video later). */
async function writeRig(path: string): Promise<void> {
  const mcap = await openImageMcap(path, 1024 * 1024);
  const { writer } = mcap;
  const channels: number[] = [];
  for (const camera of cameras) channels.push(await mcap.channel(topicOf(camera)));
  for (let tick = 0; tick < fps * seconds; tick++) {
    const captureNs = startNs + BigInt(tick) * periodNs;
    for (const [c, camera] of cameras.entries()) {
      const index = (tick + c * Math.floor(video.length / 2)) % video.length;
      const data = encodeCdr(
        type,
        compressedImageMessage({
          captureNs,
          frameId: `camera_${camera}`,
          jpeg: Buffer.from(video[index]!.jpeg),
        }),
      );
      await writer.addMessage({
        channelId: channels[c]!,
        sequence: tick,
        logTime: captureNs,
        publishTime: captureNs,
        data,
      });
      published.set(`${topicOf(camera)} ${captureNs}`, index);
    }
  }
  await mcap.end();
}

function rigAgent(dir: string, holdingBytes: number): Agent {
  const { config, digest } = parseConfig(
    JSON.stringify({
      version: 1,
      rig: { id: 'spill-rig' },
      spool: { dir: join(dir, 'spool') },
      keys: { dir: join(dir, 'secrets') },
      streams: cameras.map((camera) => ({
        name: camera,
        driver: 'mcap-replay',
        file: join(root, 'rig.mcap'),
        speed: 'recorded',
        topic: topicOf(camera),
        sourceTopic: topicOf(camera),
        type,
        encoding: 'cdr',
        maxMessageBytes: '2MiB',
      })),
      timesync: { chrony: false, ptp: false },
      ops: { listen: '', heartbeatIntervalMs: 3_600_000 },
      // Production de-id: the shipped models, one worker per core, spill mode.
      deid: { mode: 'spill', holdingBytes },
    }),
    { baseDir: dir },
  );
  return new Agent({ config, configDigest: digest, log: silentLogger() });
}

/**
 * Mean absolute Laplacian of the grey level in the middle of box (x, y, w, h) of an RGB frame: the
 * central 60 % each way, inside the drawn face or characters however they are turned.
 */
function detail(frame: { data: Uint8Array; width: number }, box: readonly number[]): number {
  const [bx, by, bw, bh] = box;
  const [x0, y0, w, h] = [bx! + 0.2 * bw!, by! + 0.2 * bh!, 0.6 * bw!, 0.6 * bh!].map(Math.round) as [
    number,
    number,
    number,
    number,
  ];
  const grey = (x: number, y: number): number => {
    const i = (y * frame.width + x) * 3;
    return 0.299 * frame.data[i]! + 0.587 * frame.data[i + 1]! + 0.114 * frame.data[i + 2]!;
  };
  let sum = 0;
  let n = 0;
  for (let y = y0 + 1; y < y0 + h - 1; y++)
    for (let x = x0 + 1; x < x0 + w - 1; x++) {
      sum += Math.abs(4 * grey(x, y) - grey(x - 1, y) - grey(x + 1, y) - grey(x, y - 1) - grey(x, y + 1));
      n++;
    }
  return n === 0 ? 0 : sum / n;
}

/** The labels de-id promises to blur: faces >= 32 px, plates >= 40 px, whole in frame and in view. */
const promised = (l: GroundTruth): boolean =>
  l.inFrame && l.hidden === null && (l.kind === 'face' ? l.sizePx >= 32 : l.sizePx >= 40);

async function rgb(jpeg: Uint8Array): Promise<{ data: Uint8Array; width: number }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width };
}

/** Every spool file outside the chunks (holding area, temporaries) scanned once per size seen. */
async function scanNonChunkFiles(
  spool: string,
  jpegHead: Buffer,
  seen: Map<string, number>,
): Promise<string[]> {
  const offenders: string[] = [];
  for (const e of await readdir(spool, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || /\.mcap(\.[a-z]+)?$/.test(e.name)) continue;
    const path = join(e.parentPath, e.name);
    const bytes = await readFile(path).catch(() => undefined);
    if (bytes === undefined || seen.get(path) === bytes.length) continue;
    seen.set(path, bytes.length);
    if (bytes.includes(jpegHead)) offenders.push(path);
  }
  return offenders;
}

async function holdingOnDisk(spool: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(join(spool, 'holding'), { recursive: true, withFileTypes: true }).catch(
    () => [],
  ))
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  return total;
}

describe.skipIf(heavySkipReason !== undefined)('spill mode, two 1080p cameras at 15 fps for 60 s', () => {
  it(
    'loses no frame, blurs every frame in the chunks, stays within the holding budget, and writes no plaintext',
    { timeout: 1_500_000 },
    async () => {
      const dir = join(root, 'agent');
      // A budget the run comes near: the evaluation video's frames are about 150 KiB.
      const budget = 512 * 1024 * 1024;
      const agent = rigAgent(dir, budget);
      const spool = join(dir, 'spool');
      // Every source JPEG starts with the same encoder header: no plaintext frame may sit outside a chunk.
      const jpegHead = Buffer.from(video[0]!.jpeg.subarray(0, 64));
      for (const f of video) expect(Buffer.from(f.jpeg.subarray(0, 64)).equals(jpegHead)).toBe(true);

      await agent.start(new AbortController().signal);
      let peakHeld = 0;
      let peakOnDisk = 0;
      const offenders: string[] = [];
      const seen = new Map<string, number>();
      for (let done = false; !done;) {
        done = await Promise.race([
          agent.intakeEnded().then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1000)),
        ]);
        peakHeld = Math.max(peakHeld, agent.deid!.holding.heldBytes);
        peakOnDisk = Math.max(peakOnDisk, await holdingOnDisk(spool));
        offenders.push(...(await scanNonChunkFiles(spool, jpegHead, seen)));
      }
      await agent.stop({ deid: 'complete' });
      expect(offenders).toEqual([]);
      expect(peakHeld).toBeGreaterThan(0);
      expect(peakHeld).toBeLessThanOrEqual(budget);
      expect(peakOnDisk).toBeLessThanOrEqual(budget);

      const frames = fps * seconds;
      for (const camera of cameras)
        expect(agent.ledger.totals().get(camera)).toMatchObject({
          received: frames,
          written: frames,
          drops: {},
        });

      // The chunks, read back: every frame at its capture time, blurred where it must be.
      const folder = join(spool, 'sessions', agent.sessionId!);
      const found = new Set<string>();
      const checked = { face: 0, plate: 0 };
      const unblurred: Record<'face' | 'plate', string[]> = { face: [], plate: [] };
      for (const f of (await readdir(folder)).filter((n) => n.endsWith('.mcap')).sort())
        await withIndexedReader(join(folder, f), async (reader) => {
          const topics = new Map([...reader.channelsById.values()].map((c) => [c.id, c.topic]));
          for await (const m of reader.readMessages()) {
            const key = `${topics.get(m.channelId)} ${m.logTime}`;
            const index = published.get(key);
            expect(index, `${key} was not published`).toBeDefined();
            found.add(key);
            const source = video[index!]!;
            const sample = { encoding: 'cdr', schemaRef: type, data: m.data } as const;
            const out = (await decodeImageSample(sample, { jpegQuality: 90 })).frame;
            const labels = source.labels.filter(promised);
            // A frame with nothing to blur may pass through as it came; one with a face may not.
            if (labels.length === 0) continue;
            const jpeg = Buffer.from(m.data);
            if (labels.some((l) => l.kind === 'face'))
              expect(
                jpeg.includes(Buffer.from(source.jpeg.subarray(-200, -2))),
                `${key} is the original frame`,
              ).toBe(false);
            const original = await rgb(source.jpeg);
            for (const l of labels) {
              const before = detail(original, l.box);
              // A region with little detail to begin with says nothing either way.
              if (before < 4) continue;
              checked[l.kind]++;
              const after = detail(out, l.box);
              if (after > blurredDetail * before)
                unblurred[l.kind].push(
                  `${key} frame ${index} ${l.kind} ${l.sizePx}px [${l.tags.join(',')}] detail ${before.toFixed(1)} -> ${after.toFixed(1)}`,
                );
            }
          }
        });
      expect(found.size).toBe(frames * cameras.length);
      // Faces >= 32 px: every one blurred in every frame. Plates >= 40 px: the detector's recall (the
      // bench's coverage rule gives 1.0 on this video; this stricter pixel rule finds a plate rolled
      // 23 degrees and motion-blurred missed on some frames), held to the goal of 0.90.
      const plateRecall = 1 - unblurred.plate.length / checked.plate;
      console.log(
        `spill rig: faces ${checked.face - unblurred.face.length}/${checked.face} blurred, ` +
          `plates ${checked.plate - unblurred.plate.length}/${checked.plate} (${plateRecall.toFixed(3)}); ` +
          `plates missed:\n${unblurred.plate.slice(0, 20).join('\n')}`,
      );
      expect(checked.face).toBeGreaterThan(500);
      expect(unblurred.face).toEqual([]);
      expect(checked.plate).toBeGreaterThan(500);
      expect(plateRecall).toBeGreaterThanOrEqual(0.9);
    },
  );
});
