// SIGINT and SIGTERM stop `rigcap run` in order: the open chunk is committed and signed, the session
// gets its close record, and the process exits 0 — with a spool the verifier accepts as it is.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimRig, type SimRig } from '../../../scripts/sim-rig/index.ts';
import { simAgentConfigYaml } from '../../integration/agent/sim-config.ts';
import { killDaemon, startDaemon, writeDaemonConfig, type Daemon } from '../../support/daemon.ts';
import { checkSpool, chunkPredicate, sessionStatements } from '../../support/spool-check.ts';

const sensors = {
  frontCamera: false,
  rearCamera: false,
  lidar: true,
  imu: true,
  gnss: true,
  tf: true,
} as const;

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

describe('rigcap run stops on a signal', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(
      `${signal}: exit 0, last chunk committed and signed, session closed`,
      { timeout: 180_000 },
      async () => {
        dir = await mkdtemp(join(tmpdir(), 'rigcap-agent-signal-'));
        const spool = join(dir, 'spool');
        rig = await startSimRig({
          endpoint: 'tcp://127.0.0.1:0',
          sensors,
          lidar: { points: 2000 },
          ratesHz: { '/tf_static': 1 },
        });
        // Chunks rotate every 800 ms, so the stop lands on an open chunk with data in it.
        const configFile = await writeDaemonConfig(
          join(dir, 'rigcap.yaml'),
          simAgentConfigYaml({
            spoolDir: spool,
            keysDir: join(dir, 'secrets'),
            endpoint: rig.endpoint,
            sensors,
            chunking: { maxDurationMs: 800 },
          }),
        );
        // Debug level: 'chunk opened' marks the moment the next chunk holds data.
        child = startDaemon(configFile, { env: { RIGCAP_LOG_LEVEL: 'debug' } });
        const started = await child.waitForLog((l) => l.msg === 'capture started', {
          what: 'capture started',
        });
        const sessionId = String(started['sessionId']);
        const sealed = await child.waitForLog((l) => l.msg === 'chunk sealed', {
          what: 'the first chunk sealed',
        });
        // A chunk opens on its first sample (with the latched values): one opened after the first seal
        // is an open chunk with data, which the signal must commit.
        await child.waitForLog((l) => l.msg === 'chunk opened', {
          what: 'a chunk opened after the first seal',
          from: child.logs.indexOf(sealed) + 1,
        });
        // A generous bound on the shutdown, as a hang detector (not a performance figure).
        const exit = await child.stop({ signal, timeoutMs: 60_000 });
        expect(exit, child.tail()).toEqual({ code: 0, signal: null });

        // The chunk open at the signal was committed by the stop ('close'), then signed.
        const closeCommit = child.logs.find((l) => l.msg === 'chunk committed' && l['reason'] === 'close');
        expect(closeCommit, JSON.stringify(child.logs.slice(-8))).toBeDefined();
        const lastName = String(closeCommit?.['chunk']);
        const names = (await readdir(join(spool, 'sessions', sessionId)))
          .filter((n) => n.endsWith('.mcap'))
          .sort();
        expect(names.at(-1)).toBe(lastName);
        const sealedAt = child.logs.findIndex((l) => l.msg === 'chunk sealed' && l['chunk'] === lastName);
        expect(sealedAt).toBeGreaterThan(child.logs.indexOf(closeCommit!));
        const predicate = await chunkPredicate(spool, sessionId, lastName);
        expect(predicate['sessionId']).toBe(sessionId);
        expect((predicate['streams'] as Array<{ count: number }>).reduce((n, s) => n + s.count, 0)).toBe(
          Number(closeCommit?.['messages']),
        );
        // The last lines are the ordered stop, flushed before exit.
        expect(child.logs.at(-1)?.msg).toBe('stopped');

        const statements = await sessionStatements(spool, sessionId);
        const close = statements.at(-1)?.predicate;
        expect(statements[0]?.predicate['phase']).toBe('open');
        expect(close?.['phase']).toBe('close');
        expect(close?.['reason']).toBe('signal');
        expect(close?.['chunks']).toBe(names.length);

        const check = await checkSpool(spool);
        expect(check.chunkProblems).toEqual([]);
        expect(check.strayFiles).toEqual([]);
        expect(check.quarantined).toEqual([]);
        expect(check.verify.failures).toEqual([]);
        expect(check.verify.checked.chunks).toBe(names.length);
      },
    );
  }
});
