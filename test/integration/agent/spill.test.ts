// Spill mode through the whole Agent: a camera replayed at its recorded rate into a de-id slower
// than the camera. Inline mode drops (counted); spill mode seals what de-id cannot take, blurs it
// when a worker is free or at stop, and loses nothing. No plaintext frame ever reaches the disk,
// the holding area stays within its budget, and a stop whose budget runs out still accounts every
// frame (the held ones as a gap of the session).
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../../agent/agent.ts';
import { silentLogger } from '../../../agent/log.ts';
import { agentSnapshot } from '../../../agent/snapshot.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import type { SessionPredicate } from '../../../agent/records/predicates.ts';
import { writeImageRecording, type ImageRecording } from '../../support/image-recording.ts';
import { spillAgent } from '../../support/spill-agent.ts';
import { waitFor } from '../../support/wait.ts';

const frames = 60;
let root: string;
let bag: string;
let recording: ImageRecording;
let dir: string | undefined;
let agent: Agent | undefined;

beforeAll(async () => {
  // One worker at 70 ms a frame against a 30 fps camera: de-id keeps up with about half the frames.
  process.env['RIGCAP_TEST_DEID_DELAY_MS'] = '70';
  root = await mkdtemp(join(tmpdir(), 'rigcap-spill-'));
  bag = join(root, 'front.mcap');
  recording = await writeImageRecording(bag, { frames, periodMs: 33 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  await agent?.destroy();
  agent = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function startAgent(deid: Record<string, unknown>): Promise<{ spool: string; agent: Agent }> {
  dir = await mkdtemp(join(root, 'run-'));
  agent = spillAgent({ dir, bag, deid, log: silentLogger() });
  await agent.start(new AbortController().signal);
  return { spool: join(dir, 'spool'), agent };
}

/** Every file under the spool, read now. */
async function spoolFiles(spool: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out = [];
  for (const e of await readdir(spool, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const bytes = await readFile(join(e.parentPath, e.name)).catch(() => undefined);
    if (bytes !== undefined) out.push({ path: join(e.parentPath, e.name), bytes });
  }
  return out;
}

/** A distinctive run of each frame's entropy-coded JPEG data (headers are alike between frames). */
const marks = (): Buffer[] => recording.jpegs.map((j) => j.subarray(j.length - 100, j.length - 2));

const blurredOf = (data: Uint8Array): string =>
  Buffer.concat([Buffer.from('BLURRED'), createHash('sha256').update(data).digest()]).toString('hex');

async function writtenFrames(spool: string, sessionId: string): Promise<Map<string, bigint>> {
  const folder = join(spool, 'sessions', sessionId);
  const out = new Map<string, bigint>();
  for (const f of (await readdir(folder)).filter((n) => n.endsWith('.mcap')))
    await withIndexedReader(join(folder, f), async (reader) => {
      for await (const m of reader.readMessages()) out.set(Buffer.from(m.data).toString('hex'), m.logTime);
    });
  return out;
}

async function closeRecord(
  spool: string,
  sessionId: string,
): Promise<Extract<SessionPredicate, { phase: 'close' }>> {
  const lines = (await readFile(join(spool, 'sessions', sessionId, 'session.dsse.json'), 'utf8'))
    .trim()
    .split('\n');
  const env = JSON.parse(lines.at(-1)!) as { payload: string };
  return (JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as { predicate: never }).predicate;
}

function balance(a: Agent): { received: number; written: number; drops: Record<string, number> } {
  const t = a.ledger.totals().get('front')!;
  return { received: t.received, written: t.written, drops: t.drops as Record<string, number> };
}

describe('de-id spill mode', () => {
  it('inline mode drops frames de-id cannot take, each counted', async () => {
    const { agent: a } = await startAgent({ mode: 'inline' });
    await a.intakeEnded();
    await a.stop({ deid: 'complete' });
    const b = balance(a);
    expect(b.received).toBe(frames);
    const dropped = Object.values(b.drops).reduce((n, c) => n + c, 0);
    expect(dropped).toBeGreaterThan(0);
    expect(b.written + dropped).toBe(frames);
  });

  it('spill mode loses no frame where inline drops, every chunk frame is blurred, and no plaintext ever reaches the disk', async () => {
    const { spool, agent: a } = await startAgent({ mode: 'spill' });
    const find = marks();
    let maxHeld = 0;
    let scans = 0;
    const scanning = (async () => {
      // While capture runs: every file of the spool, holding area included, is free of frame bytes.
      for (let done = false; !done;) {
        done = await Promise.race([
          a.intakeEnded().then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 150)),
        ]);
        maxHeld = Math.max(maxHeld, a.deid!.holding.heldFrames);
        for (const f of await spoolFiles(spool))
          for (const m of find) expect(f.bytes.includes(m), `${f.path} holds a plaintext frame`).toBe(false);
        scans++;
      }
    })();
    await scanning;
    expect(scans).toBeGreaterThan(2);
    expect(maxHeld).toBeGreaterThan(0);
    await a.stop({ deid: 'complete' });
    const b = balance(a);
    expect(b).toEqual({ received: frames, written: frames, drops: {} });
    const status = a.deid!.holding;
    expect(status.blurredLate).toBeGreaterThan(0);
    expect(status.heldFrames).toBe(0);
    expect(BigInt(status.maxDelayNs)).toBeGreaterThan(0n);
    // The same numbers reach `rigcap status --json`, the status page and /metrics.
    expect(agentSnapshot(a, undefined).deid.holding).toMatchObject({
      mode: 'spill',
      heldFrames: 0,
      blurredLate: status.blurredLate,
      maxDelayNs: status.maxDelayNs,
    });

    const written = await writtenFrames(spool, a.sessionId!);
    expect(written.size).toBe(frames);
    recording.messages.forEach((m, i) => expect(written.get(blurredOf(m))).toBe(recording.publishNs[i]));
    for (const f of await spoolFiles(spool)) for (const m of find) expect(f.bytes.includes(m)).toBe(false);
    // No frame was lost: the close names no loss or de-id gap (the test rig has no clock or calibration).
    expect(
      (await closeRecord(spool, a.sessionId!)).gaps.filter((g) => g.kind === 'deid' || g.kind === 'loss'),
    ).toEqual([]);
  });

  it('the holding area never exceeds its budget; frames past it are counted deid_holding_full', async () => {
    const one = recording.messages[0]!.byteLength + 200;
    const budget = one * 4;
    const { spool, agent: a } = await startAgent({
      mode: 'spill',
      holdingBytes: budget,
      holdingDrop: 'oldest',
    });
    const holdingDir = join(spool, 'holding', a.sessionId!);
    for (let done = false; !done;) {
      done = await Promise.race([
        a.intakeEnded().then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 50)),
      ]);
      expect(a.deid!.holding.heldBytes).toBeLessThanOrEqual(budget);
      const files = await readdir(holdingDir).catch(() => [] as string[]);
      let onDisk = 0;
      for (const f of files)
        onDisk += (await readFile(join(holdingDir, f)).catch(() => Buffer.alloc(0))).length;
      expect(onDisk).toBeLessThanOrEqual(budget);
    }
    await a.stop({ deid: 'complete' });
    const b = balance(a);
    expect(b.drops['deid_holding_full'] ?? 0).toBeGreaterThan(0);
    expect(b.written + Object.values(b.drops).reduce((n, c) => n + c, 0)).toBe(frames);
  });

  it('a stop whose budget runs out counts the frames still held as lost, and records them as a gap', async () => {
    const { spool, agent: a } = await startAgent({ mode: 'spill' });
    await a.intakeEnded();
    // SIGTERM path: a bounded stop with many frames still waiting for de-id.
    expect(a.deid!.holding.heldFrames).toBeGreaterThan(3);
    await a.stop({ timeoutMs: 100, reason: 'signal' });
    const b = balance(a);
    const lost = b.drops['deid_held_lost'] ?? 0;
    expect(lost).toBeGreaterThan(0);
    expect(b.written + Object.values(b.drops).reduce((n, c) => n + c, 0)).toBe(frames);
    const close = await closeRecord(spool, a.sessionId!);
    const held = close.gaps.filter((g) => g.counts?.['deid_held_lost'] !== undefined);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({
      kind: 'deid',
      stream: '/camera/front/image/compressed',
      counts: { deid_held_lost: lost },
    });
    expect(await readdir(join(spool, 'holding'))).toEqual([]);
  });

  it('inline mode: a stop that runs out of time counts what it abandons as stop_abandoned', async () => {
    const { agent: a } = await startAgent({ mode: 'inline' });
    // Stop while the camera is still sending and half its 8-frame queue waits behind the slow de-id
    // (one queued frame can be drained by the time the stop's 1 ms budget is armed).
    await waitFor(() => a.queueDepth('front') >= 4, {
      what: "4 frames queued behind the slow de-id on the camera's queue",
      timeoutMs: 60_000,
      everyMs: 10,
    });
    await a.stop({ timeoutMs: 1, reason: 'signal' });
    const b = balance(a);
    expect(b.drops['stop_abandoned'] ?? 0).toBeGreaterThan(0);
    expect(b.written + Object.values(b.drops).reduce((n, c) => n + c, 0)).toBe(b.received);
  });

  it('while capture runs, held frames are blurred as soon as de-id has a worker free', async () => {
    // A burst far faster than de-id, then a quiet camera: the burst is held, then caught up live.
    const burst = join(root, 'burst.mcap');
    const frames = await writeImageRecording(burst, { frames: 20, periodMs: 1 });
    dir = await mkdtemp(join(root, 'run-'));
    agent = spillAgent({ dir, bag: burst, deid: { mode: 'spill' }, log: silentLogger() });
    const a = agent;
    await a.start(new AbortController().signal);
    await a.intakeEnded();
    // Capture is still running (not stopping): the background pass empties the holding area.
    const counts = (): { received: number; written: number; drops: Record<string, number> } => balance(a);
    await waitFor(() => counts().written >= 20, {
      what: 'the background pass to write the 20 held frames',
      timeoutMs: 60_000,
      detail: () => JSON.stringify(counts()),
    });
    expect(counts()).toEqual({ received: 20, written: 20, drops: {} });
    expect(a.deid!.holding.heldFrames).toBe(0);
    expect(a.deid!.holding.blurredLate).toBeGreaterThan(0);
    await a.stop();
    const written = await writtenFrames(join(dir, 'spool'), a.sessionId!);
    frames.messages.forEach((m, i) => expect(written.get(blurredOf(m))).toBe(frames.publishNs[i]));
  });
});

describe('de-id spill mode, a camera far faster than de-id', () => {
  // 250 ms a frame against a camera at 125 fps into a 4-frame capture queue: de-id takes about one
  // frame in thirty, so whatever the machine's load, the consumer must hand frames to the holding area
  // without waiting for de-id, or the queue overflows.
  const fast = 100;
  let fastBag: string;
  let fastRecording: ImageRecording;
  beforeAll(async () => {
    fastBag = join(root, 'fast.mcap');
    fastRecording = await writeImageRecording(fastBag, { frames: fast, periodMs: 8 });
  });

  async function run(mode: 'inline' | 'spill'): Promise<{ a: Agent; spool: string }> {
    dir = await mkdtemp(join(root, 'run-'));
    const before = process.env['RIGCAP_TEST_DEID_DELAY_MS'];
    process.env['RIGCAP_TEST_DEID_DELAY_MS'] = '250';
    try {
      agent = spillAgent({ dir, bag: fastBag, deid: { mode }, log: silentLogger(), queueSize: 4 });
      await agent.start(new AbortController().signal);
    } finally {
      process.env['RIGCAP_TEST_DEID_DELAY_MS'] = before;
    }
    await agent.intakeEnded();
    await agent.stop({ deid: 'complete' });
    return { a: agent, spool: join(dir, 'spool') };
  }

  it('inline mode drops frames at the capture queue or de-id, each counted', async () => {
    const { a } = await run('inline');
    const b = balance(a);
    expect(b.received).toBe(fast);
    const dropped = Object.values(b.drops).reduce((n, c) => n + c, 0);
    expect(dropped).toBeGreaterThan(fast / 2);
    expect(b.written + dropped).toBe(fast);
  });

  it('spill mode loses no frame to a full capture queue: every frame is held and blurred later', async () => {
    const { a, spool } = await run('spill');
    const b = balance(a);
    expect(b.drops['queue_full'] ?? 0).toBe(0);
    expect(b).toEqual({ received: fast, written: fast, drops: {} });
    expect(a.deid!.holding.blurredLate).toBeGreaterThan(fast / 2);
    const written = await writtenFrames(spool, a.sessionId!);
    fastRecording.messages.forEach((m, i) =>
      expect(written.get(blurredOf(m))).toBe(fastRecording.publishNs[i]),
    );
  }, 120_000);
});
