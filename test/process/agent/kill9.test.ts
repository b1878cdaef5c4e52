// kill -9 `rigcap run` at random moments while it captures from the sim rig, restart it on the same
// spool each time, then stop it gracefully: every chunk on disk must open, match its catalog row
// byte for byte, be signed, and the verifier must find nothing wrong with the whole spool.
import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimRig, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfigYaml } from '../../integration/agent/sim-config.ts';
import { killDaemon, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { checkSpool, sessionStatements } from '../../support/spool-check.ts';
import { delay } from '../../support/wait.ts';

const KILLS = 20;
const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: true,
  imu: true,
  gnss: true,
  tf: true,
} as const;

/** mulberry32: the kill schedule is reproducible from the seed printed on failure. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dir: string | undefined;
let rig: SimRig | undefined;
let child: Daemon | undefined;
afterEach(async () => {
  await killDaemon(child);
  await rig?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  rig = undefined;
  child = undefined;
});

describe('rigcap run under kill -9', () => {
  it(
    `leaves a spool that verifies after ${KILLS} kills and a graceful stop`,
    { timeout: 600_000 },
    async () => {
      const seed = Number(process.env['RIGCAP_KILL9_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
      const random = seeded(seed);
      const context = `seed ${seed} (rerun with RIGCAP_KILL9_SEED=${seed})`;
      dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-kill9-'));
      const spool = join(dir, 'spool');
      rig = await startSimRig({
        endpoint: 'tcp://127.0.0.1:0',
        sensors,
        lidar: { points: 3000 },
        ratesHz: { '/imu/data': 200, '/tf': 50, '/tf_static': 2 },
      });
      const configFile = await writeDaemonConfig(
        join(dir, 'rigcap.yaml'),
        simAgentConfigYaml({
          spoolDir: spool,
          keysDir: join(dir, 'secrets'),
          endpoint: rig.endpoint,
          sensors,
          chunking: { maxBytes: '256KiB', maxDurationMs: 500, mcapChunkBytes: '32KiB' },
        }),
      );

      const kills: string[] = [];
      for (let k = 0; k < KILLS; k++) {
        child = startDaemon(configFile);
        // Most kills land while capturing (mid-write, mid-commit, mid-seal); every fifth lands during
        // start-up, where recovery salvages, reconciles and signs what the previous kill left. The
        // random delay is the kill point the seed chose, not a wait for a state.
        if (k % 5 === 4) {
          const afterMs = 300 + Math.floor(random() * 800);
          await delay(afterMs);
          kills.push(`#${k} ${afterMs} ms after spawn`);
        } else {
          await child.waitForLog((l) => l.msg === 'capture started', {
            what: `capture started (${context})`,
          });
          const afterMs = Math.floor(random() * 700);
          await delay(afterMs);
          kills.push(`#${k} ${afterMs} ms after capture started`);
        }
        const exit = await child.kill();
        // A child that died on its own (not by our SIGKILL) is a failure in itself.
        expect(exit.signal, `${context}; kill ${kills.at(-1)}; stderr: ${child.stderr()}`).toBe('SIGKILL');
      }

      child = startDaemon(configFile);
      const started = await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      await child.waitForLog((l) => l.msg === 'chunk sealed' && l['sessionId'] === started['sessionId'], {
        what: 'a chunk of the last session sealed',
      });
      const exit = await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 });
      expect(exit, `${context}; ${child.tail()}`).toEqual({ code: 0, signal: null });
      const recovered = child.logs.filter((l) => l.msg === 'leftover partial chunk recovered').length;

      const check = await checkSpool(spool);
      const summary = JSON.stringify({
        seed,
        kills,
        chunks: check.chunks,
        sessions: check.sessions.length,
        quarantined: check.quarantined,
        recoveredOnLastStart: recovered,
      });
      expect(check.chunkProblems, summary).toEqual([]);
      expect(check.strayFiles, summary).toEqual([]);
      expect(check.quarantinedMcap, summary).toEqual([]);
      expect(check.verify.failures, summary).toEqual([]);
      expect(check.verify.ok).toBe(true);
      expect(check.verify.checked.chunks).toBe(check.chunks);
      expect(check.chunks).toBeGreaterThan(KILLS / 2);
      // One session per start that got as far as opening one; each is closed (interrupted or by the stop).
      expect(check.sessions.length).toBeGreaterThan(KILLS / 2);
      for (const sessionId of check.sessions) {
        const phases = (await sessionStatements(spool, sessionId)).map((s) => s.predicate['phase']);
        expect(phases[0], `${sessionId} ${summary}`).toBe('open');
        expect(phases.at(-1), `${sessionId} ${summary}`).toBe('close');
      }
      console.log(summary);
    },
  );

  it(
    'does not sign a chunk twice when killed between its chain record and the catalog update',
    { timeout: 180_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-kill9-seal-'));
      const spool = join(dir, 'spool');
      rig = await startSimRig({ endpoint: 'tcp://127.0.0.1:0', sensors, lidar: { points: 1000 } });
      const configFile = await writeDaemonConfig(
        join(dir, 'rigcap.yaml'),
        simAgentConfigYaml({
          spoolDir: spool,
          keysDir: join(dir, 'secrets'),
          endpoint: rig.endpoint,
          sensors,
          chunking: { maxDurationMs: 400 },
        }),
      );
      child = startDaemon(configFile);
      const sealed = await child.waitForLog((l) => l.msg === 'chunk sealed', {
        what: 'the first chunk sealed',
      });
      await child.kill();
      const sessionId = String(sealed['sessionId']);
      // The state a kill right after the chain record leaves: no sidecar yet, catalog still 'committed'.
      await unlink(join(spool, 'sessions', sessionId, 'chunk-000001.mcap.dsse.json'));
      const db = new Database(join(spool, 'catalog.sqlite'));
      db.prepare(
        `UPDATE chunks SET state = 'committed', record_seq = NULL WHERE session_id = ? AND chunk_index = 1`,
      ).run(sessionId);
      db.close();

      child = startDaemon(configFile);
      await child.waitForLog((l) => l.msg === 'capture started', { what: 'capture started' });
      expect(await child.stop({ signal: 'SIGTERM', timeoutMs: 60_000 }), child.tail()).toEqual({
        code: 0,
        signal: null,
      });

      const records: string[] = [];
      for (const name of await readdir(join(spool, 'records', 'agent-test-rig'))) {
        const env = JSON.parse(await readFile(join(spool, 'records', 'agent-test-rig', name), 'utf8')) as {
          payload: string;
        };
        const st = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
          predicateType: string;
          predicate: { sessionId?: string; chunkIndex?: number };
        };
        if (
          st.predicateType.includes('capture-chunk') &&
          st.predicate.sessionId === sessionId &&
          st.predicate.chunkIndex === 1
        )
          records.push(name);
      }
      expect(records).toHaveLength(1);
      const check = await checkSpool(spool);
      expect(check.chunkProblems).toEqual([]);
      expect(check.verify.failures).toEqual([]);
    },
  );
});
