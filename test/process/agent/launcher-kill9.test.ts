// kill -9 of what launched `rigcap demo` (npx and its `sh -c`, or the Node-22 re-exec wrapper) ends
// the capture process too: it notices its launcher is gone and dies like it, so the spool claim is
// free and the next run on the same folder starts, recovers what the killed one left, and verifies.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { VerifyReport } from '../../../agent/records/index.ts';
import { claimSpool, spoolClaimFileName } from '../../../agent/spool-claim.ts';
import { silentLogger } from '../../../agent/log.ts';
import { runCli } from '../../support/cli.ts';
import { rigcapBin } from '../../support/daemon.ts';
import { waitFor } from '../../support/wait.ts';
import { demoArgs, killGroup, logged, spawnTracked, startDemo, type DemoChild } from './demo-child.ts';

/** Pids of live processes whose command line names `needle` (a zombie's is empty: it is gone). */
function processesNaming(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(needle)) found.push(Number(name));
    } catch {
      // Ended while listing.
    }
  }
  return found;
}

/** A Node whose major is not 22 (the system's), under which bin/rigcap.js re-runs itself. */
function otherNode(): string | undefined {
  for (const path of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const major = execFileSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
      if (Number(major.trim()) !== 22) return path;
    } catch {
      // Not installed there.
    }
  }
  return undefined;
}

/**
 * The pid in the spool claim once the demo holds it and has started capturing; with `pid`, waits for
 * a claim by that process (a killed run's claim stays on disk until the next start takes it over).
 */
async function capturing(dir: string, top: DemoChild, pid?: number): Promise<number> {
  const holder = await waitFor(
    async () => {
      if (top.proc.exitCode !== null) throw new Error(`demo ended early: ${top.stderr()}`);
      const text = await readFile(join(dir, 'agent', spoolClaimFileName), 'utf8').catch(absentAsEmpty);
      const claimed = text === '' ? undefined : (JSON.parse(text) as { pid: number }).pid;
      return pid === undefined || claimed === pid ? claimed : undefined;
    },
    {
      what: pid === undefined ? 'the demo to claim the spool' : `pid ${pid} to claim the spool`,
      timeoutMs: 180_000,
    },
  );
  await waitFor(() => logged(dir, holder, 'capture started'), {
    what: `capture started in pid ${holder}`,
    timeoutMs: 180_000,
  });
  return holder;
}

async function verify(path: string): Promise<VerifyReport> {
  const run = await runCli(['verify', path, '--json']);
  expect([0, 1], run.stderr).toContain(run.code);
  return JSON.parse(run.stdout) as VerifyReport;
}

let dir: string | undefined;
let children: DemoChild[] = [];
afterEach(async () => {
  for (const child of children) killGroup(child);
  await Promise.all(children.map((c) => c.exited));
  if (dir !== undefined) {
    // A process the feature failed to end would hold the folder: end it by pid.
    for (const pid of processesNaming(dir)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  dir = undefined;
  children = [];
});

describe('rigcap demo dies with its launcher', () => {
  it(
    'kill -9 of an npx-like launcher (node → sh -c → rigcap demo) ends the whole tree; the next run on the folder starts and verifies',
    { timeout: 600_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-launcher-kill9-'));
      const out = dir;
      const quoted = [process.execPath, rigcapBin, ...demoArgs(out, 30)].map((a) => `'${a}'`).join(' ');
      // Like npx: a Node process runs `sh -c`, which runs rigcap and waits for it (so sh stays).
      const launcher = `const c = require('node:child_process').spawn('sh', ['-c', process.argv[1]], { stdio: 'inherit' }); c.on('exit', (code) => process.exit(code ?? 1));`;
      const top = spawnTracked(process.execPath, ['-e', launcher, `${quoted}; exit $?`]);
      children.push(top);
      const pid = await capturing(out, top);
      expect(processesNaming(out)).toContain(pid);

      process.kill(top.proc.pid!, 'SIGKILL');
      await top.exited;
      await waitFor(() => processesNaming(out).length === 0, {
        what: 'every process of the killed demo to end',
        timeoutMs: 60_000,
        detail: () => `still running: ${processesNaming(out).join(', ')}`,
      });

      // The next run claims the spool and captures (not RIGCAP_SPOOL_BUSY), then ends OK and verifies.
      const next = startDemo(out, 1);
      children.push(next);
      expect(await capturing(out, next, next.proc.pid)).toBe(next.proc.pid);
      const exit = await next.exited;
      expect(next.stderr()).not.toContain('RIGCAP_SPOOL_BUSY');
      expect(exit.code, `stderr: ${next.stderr()}`).toBe(0);
      expect((JSON.parse(next.stdout()) as { ok: boolean }).ok).toBe(true);
      const agent = await verify(join(out, 'agent'));
      expect(agent.failures).toEqual([]);
      expect(agent.checked.sessions).toBeGreaterThanOrEqual(2);
    },
  );

  const legacyNode = otherNode();
  it.skipIf(legacyNode === undefined)(
    'kill -9 of the Node-22 re-exec wrapper ends its child, and the spool can be claimed at once',
    { timeout: 600_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'rigcap-wrapper-kill9-'));
      const out = dir;
      const wrapper = spawnTracked(legacyNode!, [rigcapBin, ...demoArgs(out, 30)]);
      children.push(wrapper);
      const pid = await capturing(out, wrapper);
      expect(pid, 'the claim is the re-run child, not the wrapper').not.toBe(wrapper.proc.pid);

      process.kill(wrapper.proc.pid!, 'SIGKILL');
      await wrapper.exited;
      await waitFor(() => processesNaming(out).length === 0, {
        what: 'the re-run child to end',
        timeoutMs: 60_000,
        detail: () => `still running: ${processesNaming(out).join(', ')}`,
      });
      const claim = await claimSpool(join(out, 'agent'), { log: silentLogger(), waitMs: 0 });
      claim.release();
    },
  );
});

/** A file not written yet reads as empty (the claim appears once the demo holds the spool). */
function absentAsEmpty(err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return '';
  throw err;
}
