import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';
import { embeddedStatePath } from '../../../receiver/state/open.ts';
import { runCli } from '../../support/cli.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'audit-enrol-token-0123456789';

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
  expect(res.status).toBe(201);
}

describe('rigcap log audit', () => {
  let root: string;
  let data: string;
  let receiver: ReceiverHandle;
  let dev: FakeDevice;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-audit-'));
    data = join(root, 'store');
    receiver = await startReceiver({
      dataDir: data,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token],
      log: silentLogger(),
    });
    dev = new FakeDevice({ deviceId: 'rig-audit', spoolDir: join(root, 'spool') });
    await post(receiver.url, dev.enrol(), { 'rigcap-enroll-token': token });
  });
  afterAll(async () => {
    await receiver.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('follows a growing log over HTTP and refuses one that shrank (exit 1)', async () => {
    const state = join(root, 'http-state.json');
    const first = await runCli(['log', 'audit', receiver.url, '--state', state, '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ ok: true, size: 3, previous: null });
    await post(receiver.url, dev.openSession());
    const second = await runCli(['log', 'audit', receiver.url, '--state', state, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, size: 5, previous: { size: 3 } });
    // An auditor that saw a longer log than the store now shows has caught a shrink.
    const seen = JSON.parse(readFileSync(state, 'utf8')) as { size: number };
    writeFileSync(state, JSON.stringify({ ...seen, size: seen.size + 2 }));
    const shrunk = await runCli(['log', 'audit', receiver.url, '--state', state, '--json']);
    expect(shrunk.code).toBe(1);
    expect(JSON.parse(shrunk.stdout)).toMatchObject({ ok: false, problem: 'shrink' });
  });

  it('audits a store directory and finds a rewritten entry as a fork (exit 1)', async () => {
    const state = join(root, 'dir-state.json');
    expect((await runCli(['log', 'audit', data, '--state', state])).code).toBe(0);
    await post(receiver.url, dev.openSession());
    expect((await runCli(['log', 'audit', data, '--state', state])).code).toBe(0);
    await receiver.close();
    const db = new Database(embeddedStatePath(data));
    db.prepare('UPDATE receiver_log SET leaf_hash = ? WHERE idx = 1').run(Buffer.alloc(32, 7));
    db.close();
    const forked = await runCli(['log', 'audit', data, '--state', state, '--json']);
    expect(forked.code).toBe(1);
    expect(JSON.parse(forked.stdout)).toMatchObject({ ok: false, problem: 'fork' });
    expect((await runCli(['log', 'audit'])).code).toBe(2);
  });
});
