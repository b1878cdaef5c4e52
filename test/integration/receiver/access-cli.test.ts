// The command line end to end: `rigcap receiver --data DIR --readers FILE` serves the read API and
// the dashboard to the named readers only, and `node bin/rigcap.js access-log DIR --json` (the
// entry outside tools call) lists what they did, with exit 2 and a code for an unknown session.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AccessLogRow } from '../../../receiver/access/access-log.ts';
import { tokenSha256 } from '../../../receiver/access/readers.ts';
import { runCli } from '../../support/cli.ts';
import { rigcapBin } from '../../support/daemon.ts';
import { waitFor, within } from '../../support/wait.ts';

const root = mkdtempSync(join(tmpdir(), 'rigcap-access-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** `node bin/rigcap.js …` as a child process: its exit code and output. */
function rigcap(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [rigcapBin, ...args],
      { env: { ...process.env, RIGCAP_LOG_LEVEL: 'silent' } },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr }),
    );
  });
}

describe('rigcap receiver --readers and rigcap access-log', () => {
  it('serves the named readers only and logs every answer, listed by the CLI', async () => {
    const token = 'carol-cli-token-0123456789abcdef0123456';
    const readers = join(root, 'readers.jsonl');
    writeFileSync(
      readers,
      `${JSON.stringify({ name: 'carol', role: 'reader', sha256: tokenSha256(token) })}\n`,
    );
    const store = join(root, 'store');
    const url = `http://127.0.0.1:${await freePort()}`;
    const stop = new AbortController();
    const ended = runCli(['receiver', '--listen', url.slice(7), '--data', store, '--readers', readers], {
      signal: stop.signal,
    });
    let exited = false;
    void ended.finally(() => (exited = true));
    await waitFor(
      async () => {
        if (exited) throw new Error('rigcap receiver exited before it listened');
        return fetch(`${url}/v1/store`).then(
          (r) => r.ok,
          () => false,
        );
      },
      { timeoutMs: 60_000, what: 'the receiver to listen' },
    );
    const auth = { authorization: `Bearer ${token}` };
    const list = await fetch(`${url}/v1/sessions`, { headers: auth });
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ total: 0, sessions: [] });
    expect((await fetch(`${url}/v1/sessions`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    expect((await fetch(`${url}/ui/`, { headers: auth })).status).toBe(200);
    stop.abort();
    expect((await within(ended, { timeoutMs: 60_000, what: 'the receiver to stop' })).code).toBe(0);

    const run = await rigcap(['access-log', store, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { entries } = JSON.parse(run.stdout) as { entries: AccessLogRow[] };
    expect(entries.map((e) => [e.reader, e.action, e.route, e.outcome, e.status])).toEqual([
      ['carol', 'list', '/v1/sessions', 'read', 200],
      [null, 'list', '/v1/sessions', 'refused', 401],
      ['carol', 'list', '/ui/', 'read', 200],
    ]);
    const unknown = await rigcap(['access-log', store, '--session', 's-none']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('RIGCAP_SESSION_UNKNOWN');
  });
});
