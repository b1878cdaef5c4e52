import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsSource } from '../../../agent/keys/fs-source.ts';
import { verifyTree } from '../../../agent/records/verify.ts';
import { FakeDevice } from '../../integration/sync/fake-device.ts';
import { waitFor } from '../../support/wait.ts';

const repo = resolve(import.meta.dirname, '../../..');
const node = process.execPath;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function startReceiver(args: string[]): Promise<ChildProcess> {
  const child = spawn(node, [join(repo, 'bin/rigcap.js'), 'receiver', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) res(child);
    });
    child.once('exit', (code) => rej(new Error(`receiver exited ${code}: ${out}`)));
  });
}

describe('kill -9 of receiver and agent sync (TLS)', () => {
  let root: string;
  let cert: string;
  let key: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'rigcap-k9-'));
    cert = join(root, 'cert.pem');
    key = join(root, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('resumes from the server offset after the agent is killed, and survives a receiver kill -9', async () => {
    const port = await freePort();
    const args = [
      '--listen',
      `127.0.0.1:${port}`,
      '--data',
      join(root, 'store'),
      '--enroll-token',
      'tok',
      '--tls-cert',
      cert,
      '--tls-key',
      key,
    ];
    let receiver = await startReceiver(args);
    const url = `https://127.0.0.1:${port}`;
    const spool = join(root, 'spool');
    const dev = new FakeDevice({ deviceId: 'rig-k', spoolDir: spool });
    dev.enrol();
    dev.openSession();
    const big = dev.chunk({ bytes: 1_500_000 });
    dev.chunk({ bytes: 200_000 });

    // Agent killed mid-upload (capped at 1 MB/s so there is a "mid").
    const runChild = (): ChildProcess =>
      spawn(node, [join(repo, 'test/process/sync/sync-child.ts'), spool, url, cert, '1000000'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const first = runChild();
    // Sync state lives in the spool's catalog (the records table).
    const db = new Database(join(spool, 'catalog.sqlite'), { readonly: false, fileMustExist: false });
    const offsetNow = (): number => {
      try {
        const r = db.prepare('SELECT upload_offset FROM records WHERE blob_sha256 = ?').get(big.sha256) as
          { upload_offset: number } | undefined;
        return r?.upload_offset ?? 0;
      } catch {
        return 0;
      }
    };
    // Polled often, so the kill lands soon after the third part is confirmed.
    await waitFor(() => offsetNow() >= 3 * 64 * 1024, {
      what: 'the receiver to confirm three 64 KiB parts of the big upload',
      timeoutMs: 60_000,
      everyMs: 25,
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const confirmed = offsetNow();
    expect(confirmed).toBeLessThan(1_500_000);
    // Bytes still owed: the unconfirmed rest of every pending chunk (small chunks go first, so may be done).
    const rest = (
      db
        .prepare(
          "SELECT COALESCE(SUM(blob_bytes - upload_offset), 0) AS n FROM records WHERE sync_state = 'pending' AND blob_path IS NOT NULL",
        )
        .get() as { n: number }
    ).n;
    expect(rest).toBeGreaterThanOrEqual(1_500_000 - confirmed);

    // Receiver killed too, and restarted on the same port and data.
    receiver.kill('SIGKILL');
    await new Promise((r) => receiver.once('exit', r));
    receiver = await startReceiver(args);

    const second = runChild();
    let out = '';
    second.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => second.once('exit', r));
    const result = JSON.parse(out) as { empty: boolean; stats: { bytesSent: number } };
    expect(result.empty).toBe(true);
    // Resumed from the confirmed offset: it sent what was owed and at most one part again.
    expect(result.stats.bytesSent).toBeGreaterThanOrEqual(rest);
    expect(result.stats.bytesSent).toBeLessThanOrEqual(rest + 64 * 1024);
    db.close();

    receiver.kill('SIGTERM');
    await new Promise((r) => receiver.once('exit', r));
    const report = await verifyTree(new FsSource(join(root, 'store')));
    expect(report.failures.filter((f) => !f.reason.includes('MCAP'))).toEqual([]);
    expect(report.checked.chunks).toBe(2);
  });
});
