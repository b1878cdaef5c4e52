// The one-command demo as a user runs it: a child process, sim rig + agent + receiver on loopback.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
let dir: string | undefined;
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function demo(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(root, 'bin/rigcap.js'), 'demo', '--out', out, '--seconds', '3', '--json'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Summary {
  ok: boolean;
  sessionId: string;
  chunks: number;
  streams: Array<{ name: string; received: number; written: number; drops: Record<string, number> }>;
  deid: { framesIn: number; faces: number; plates: number };
  sync: { backlogChunks: number; backlogRecords: number };
  verify: {
    agent: { ok: boolean; checked: { chunks: number } };
    store: { ok: boolean; checked: { chunks: number } };
  };
}

describe('rigcap demo', () => {
  it('captures, blurs, signs, syncs and verifies on loopback, and continues on a second run', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-demo-'));
    const first = await demo(dir);
    expect(first.code, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as Summary;
    expect(a.ok).toBe(true);
    expect(a.chunks).toBeGreaterThan(0);
    expect(a.verify.agent.ok && a.verify.store.ok).toBe(true);
    expect(a.verify.store.checked.chunks).toBe(a.verify.agent.checked.chunks);
    expect(a.sync).toMatchObject({ backlogChunks: 0, backlogRecords: 0 });
    // Every sensor of the rig reached a chunk; the cameras went through de-id.
    for (const s of a.streams.filter((x) => !x.name.endsWith('camera')))
      expect(s.written, s.name).toBeGreaterThan(0);
    expect(a.deid.framesIn).toBeGreaterThan(0);
    expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700);

    // Same folder again: same keys and chain, a new session; both sides still verify.
    const second = await demo(dir);
    expect(second.code, second.stderr).toBe(0);
    const b = JSON.parse(second.stdout) as Summary;
    expect(b.sessionId).not.toBe(a.sessionId);
    expect(b.verify.agent.checked.chunks).toBe(a.verify.agent.checked.chunks + b.chunks);
    expect(b.verify.store.ok).toBe(true);
  }, 240_000);
});
