import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'cli-enrol-token-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Resolves once GET /v1/store answers (the receiver listens), or rejects when the CLI ended first. */
async function listening(url: string, ended: Promise<unknown>): Promise<Record<string, unknown>> {
  let done = false;
  void ended.finally(() => {
    done = true;
  });
  for (;;) {
    if (done) throw new Error('rigcap receiver exited before it listened');
    try {
      const res = await fetch(`${url}/v1/store`);
      if (res.ok) return (await res.json()) as Record<string, unknown>;
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('rigcap receiver flags', () => {
  it('refuses a database password on the command line, and --db without a place for blobs (exit 2)', async () => {
    const withPassword = await runCli([
      'receiver',
      '--listen',
      '127.0.0.1:0',
      '--db',
      'postgres://rigcap:secret@127.0.0.1/store',
      '--data',
      '/nonexistent',
    ]);
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).toContain('RIGCAP_USAGE');
    expect(withPassword.stderr).not.toContain('secret');
    const noBlobs = await runCli([
      'receiver',
      '--listen',
      '127.0.0.1:0',
      '--db',
      'postgres://rigcap@127.0.0.1/store',
    ]);
    expect(noBlobs.code).toBe(2);
    const noKey = await runCli([
      'receiver',
      '--listen',
      '127.0.0.1:0',
      '--db',
      'postgres://rigcap@127.0.0.1/store',
      '--blobs',
      's3://bucket',
    ]);
    expect(noKey.code).toBe(2);
    expect(
      (await runCli(['receiver', '--listen', '127.0.0.1:0', '--data', '/x', '--s3-endpoint', 'http://h']))
        .code,
    ).toBe(2);
  });
});

describe.skipIf(postgresSkipReason !== undefined)('rigcap receiver --db', () => {
  let engine: PostgresEngine;
  let root: string;

  beforeAll(async () => {
    engine = await startPostgres();
    root = mkdtempSync(join(tmpdir(), 'rigcap-recv-cli-'));
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('keeps the state in PostgreSQL and the files in --data, and the store verifies', async () => {
    const url = await engine.createDatabase();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const data = join(root, 'store');
    const stop = new AbortController();
    const cli = runCli(
      ['receiver', '--listen', `127.0.0.1:${port}`, '--db', url, '--data', data, '--enroll-token', token],
      { signal: stop.signal },
    );
    const store = await listening(base, cli);
    const dev = new FakeDevice({ deviceId: 'rig-cli', spoolDir: join(root, 'spool') });
    expect(await post(base, dev.enrol(), { 'rigcap-enroll-token': token })).toBe(201);
    expect(await post(base, dev.openSession())).toBe(201);
    const chunk = dev.chunk({ bytes: 50_000 });
    const client = new TusClient({ baseUrl: base, partBytes: 64 * 1024, log: silentLogger() });
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 50_000,
      name: 'chunk-000001.mcap',
      onProgress: () => undefined,
    });
    await client.close();
    expect(await post(base, chunk.record)).toBe(201);
    stop.abort();
    expect((await cli).code).toBe(0);

    // The records are in PostgreSQL, not in a SQLite file under --data.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const held = await db.query<{ n: string }>('SELECT count(*) AS n FROM receiver_records');
    await db.end();
    expect(Number(held.rows[0]?.n)).toBe(3);
    // Every record and receipt in --data verifies (the test chunk's bytes are random, not MCAP).
    const verify = await runCli(['verify', data, '--json']);
    const report = JSON.parse(verify.stdout) as {
      checked: { records: number };
      failures: Array<{ file: string }>;
      signers: Array<{ id: string; headSeq: number }>;
    };
    expect(report.checked.records).toBe(7);
    expect(report.failures.filter((f) => !f.file.endsWith('.mcap'))).toEqual([]);
    expect(report.signers).toContainEqual({ id: String(store['storeId']), headSeq: 4 });
  }, 120_000);
});
