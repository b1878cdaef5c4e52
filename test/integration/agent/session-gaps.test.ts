// The whole Agent against the sim rig over real ZeroMQ, overloaded with tiny queues and without a
// time service: its close record names the drop windows and the unsynced clock, the card lists them
// (never "no gaps"), and readiness takes points off for exactly what went wrong.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../agent/agent.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { silentLogger } from '../../../agent/log.ts';
import type { SessionPredicate } from '../../../agent/records/index.ts';
import { startSimRig, simTopics, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { runCli } from '../../support/cli.ts';
import { waitFor } from '../../support/wait.ts';
import { simAgentConfigYaml } from './sim-config.ts';

let dir: string | undefined;
let rig: SimRig | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.destroy();
  await rig?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = rig = agent = undefined;
});

async function closeRecord(
  spool: string,
  sessionId: string,
): Promise<Extract<SessionPredicate, { phase: 'close' }>> {
  const lines = (await readFile(join(spool, 'sessions', sessionId, 'session.dsse.json'), 'utf8'))
    .trim()
    .split('\n');
  const envelope = JSON.parse(lines.at(-1)!) as { payload: string };
  return (
    JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: Extract<SessionPredicate, { phase: 'close' }>;
    }
  ).predicate;
}

describe('session gaps through the agent', () => {
  it('an overloaded capture with an unsynced clock signs its loss windows and clock gap, and its card lists them', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-session-gaps-'));
    const spool = join(dir, 'spool');
    rig = await startSimRig({
      endpoint: 'tcp://127.0.0.1:0',
      socket: 'push',
      sensors: { frontCamera: true, rearCamera: false, lidar: true, imu: true, gnss: false, tf: false },
      camera: { width: 160, height: 96, frames: 2 },
      lidar: { points: 4000 },
      ratesHz: Object.fromEntries(simTopics.map((t) => [t.topic, 5000])),
      messagesPerTopic: 300,
      waitForSubscribers: 0,
    });
    const yaml = simAgentConfigYaml({
      spoolDir: spool,
      keysDir: join(dir, 'secrets'),
      endpoint: rig.endpoint,
      socket: 'pull',
      sensors: { frontCamera: true, rearCamera: false, lidar: true, imu: true, gnss: false, tf: false },
      chunking: { maxBytes: '256KiB', maxDurationMs: 300, mcapChunkBytes: '32KiB' },
      queue: { size: 1, maxBytes: 256 * 1024, dropPolicy: 'drop-oldest' },
      maxMessageBytes: 256 * 1024,
    });
    const { config, digest } = parseConfig(yaml, { baseDir: dir });
    agent = new Agent({ config, configDigest: digest, log: silentLogger() });
    await agent.start(new AbortController().signal);
    await rig.done;
    // Wait until the ledger has settled every published message (written or dropped).
    const published = rig.published();
    const a = agent;
    const settled = (): boolean =>
      config.streams.every((st) => {
        const t = a.ledger.totals().get(st.name);
        const drops = Object.values(t?.drops ?? {}).reduce((n, c) => n + (c ?? 0), 0);
        return (t?.written ?? 0) + drops >= (published[st.topic] ?? 0);
      });
    await waitFor(settled, {
      what: 'every published sample to be written or dropped under a cause',
      timeoutMs: 60_000,
      everyMs: 50,
    });
    const dropped = [...a.ledger.totals()].filter(([, t]) => (t.drops.queue_full ?? 0) > 0);
    expect(dropped.length, 'the tiny queues dropped something').toBeGreaterThan(0);
    await a.stop();
    const sessionId = a.sessionId!;

    const close = await closeRecord(spool, sessionId);
    const topicOf = new Map(config.streams.map((s) => [s.name, s.topic]));
    for (const [name, t] of dropped) {
      const windows = close.gaps.filter((g) => g.kind === 'loss' && g.stream === topicOf.get(name));
      expect(windows.length, name).toBeGreaterThan(0);
      expect(
        windows.reduce((n, g) => n + (g.counts?.['queue_full'] ?? 0), 0),
        name,
      ).toBe(t.drops.queue_full);
    }
    // No time service here: the clock was unsynced for the whole session, and that is a gap too.
    // One run: the state holds between the chunks' clock windows.
    expect(close.gaps.filter((g) => g.kind === 'clock_unsynced')).toHaveLength(1);
    // No calibration files: every sensor stream is named.
    expect(close.gaps.filter((g) => g.kind === 'calibration_missing').map((g) => g.stream)).toContain(
      '/lidar/points',
    );

    const card = join(dir, 'card.md');
    expect(
      (await runCli(['export', sessionId, '--format', 'card', '--out', card, '--spool', spool])).code,
    ).toBe(0);
    const gaps = (await readFile(card, 'utf8')).split('## Gaps and loss')[1]!;
    expect(gaps).not.toMatch(/no gaps/);
    expect(gaps).toMatch(/: clock unsynced/);
    expect(gaps).toMatch(/samples dropped on \/camera\/front\/image\/compressed: \d+ queue full/);

    const r = await runCli(['readiness', spool, '--json']);
    const doc = JSON.parse(r.stdout) as {
      sessions: Array<{ score: number; factors: Array<{ name: string; cost: number }> }>;
    };
    const costly = doc.sessions[0]!.factors.filter((f) => f.cost > 0).map((f) => f.name);
    // Cameras are exempt from de-id in this config, nothing was synced, and the policy has no owner.
    expect(costly).toEqual(expect.arrayContaining(['clock', 'calibration', 'loss', 'receipts']));
    expect(costly).not.toContain('chain');
    expect(doc.sessions[0]!.score).toBeLessThan(70);
    expect(r.code).toBe(1);
  });
});
