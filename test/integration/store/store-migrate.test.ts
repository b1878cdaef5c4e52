import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { parseCheckpoint } from '../../../agent/records/checkpoint.ts';
import { treeRoot, verifyConsistency } from '../../../agent/records/merkle.ts';
import { TusClient } from '../../../agent/sync/tus-client.ts';
import { startReceiver } from '../../../receiver/server.ts';
import { EmbeddedReceiverState } from '../../../receiver/state/embedded.ts';
import { embeddedStatePath } from '../../../receiver/state/open.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const token = 'migrate-enrol-token-0123456789';

async function post(
  url: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/v1/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, unknown>;
}

describe.skipIf(postgresSkipReason !== undefined)('rigcap store migrate', () => {
  let engine: PostgresEngine;
  let root: string;

  beforeAll(async () => {
    engine = await startPostgres();
    root = mkdtempSync(join(tmpdir(), 'rigcap-migrate-'));
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('moves an embedded store into PostgreSQL with the same log, and receivers on it continue that log', async () => {
    const data = join(root, 'store');
    const embedded = await startReceiver({
      dataDir: data,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [token],
      log: silentLogger(),
    });
    const dev = new FakeDevice({ deviceId: 'rig-move', spoolDir: join(root, 'spool') });
    await post(embedded.url, dev.enrol(), { 'rigcap-enroll-token': token });
    await post(embedded.url, dev.openSession());
    const chunk = dev.chunk({ bytes: 40_000 });
    const client = new TusClient({ baseUrl: embedded.url, partBytes: 64 * 1024, log: silentLogger() });
    await client.upload({
      path: chunk.path,
      sha256: chunk.sha256,
      size: 40_000,
      name: 'chunk-000001.mcap',
      onProgress: () => undefined,
    });
    await client.close();
    const lastAnswer = await post(embedded.url, chunk.record);
    await embedded.close();
    const before = new EmbeddedReceiverState(embeddedStatePath(data));
    const leaves = await before.leavesFrom(0);
    await before.close();

    const url = await engine.createDatabase();
    const moved = await runCli(['store', 'migrate', '--from', data, '--to-db', url, '--json']);
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      ok: true,
      records: 3,
      logEntries: leaves.length,
      logRootHex: treeRoot(leaves).toString('hex'),
      alreadyMigrated: false,
    });
    // Again: nothing to do.
    const again = await runCli(['store', 'migrate', '--from', data, '--to-db', url, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyMigrated: true });

    // A receiver on the database (same key, files still in DIR) holds every record and extends the log.
    const fleet = await startReceiver({
      dataDir: data,
      db: { url },
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [],
      log: silentLogger(),
    });
    try {
      const held = await fetch(`${fleet.url}/v1/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(chunk.record),
      });
      expect(held.status).toBe(200);
      expect(((await held.json()) as Record<string, unknown>)['receipt']).toEqual(lastAnswer['receipt']);
      const next = await post(fleet.url, dev.openSession());
      const cp = parseCheckpoint(String(next['checkpoint']).split('\n\n')[0] + '\n');
      expect(cp?.size).toBe(leaves.length + 1);
      const res = await fetch(`${fleet.url}/v1/log/consistency?first=${leaves.length}&second=${cp?.size}`);
      const { proof } = (await res.json()) as { proof: string[] };
      expect(
        verifyConsistency({
          firstSize: leaves.length,
          firstRoot: treeRoot(leaves),
          secondSize: cp?.size ?? 0,
          secondRoot: cp?.root ?? Buffer.alloc(32),
          proof: proof.map((h) => Buffer.from(h, 'base64')),
        }),
      ).toBe(true);
    } finally {
      await fleet.close();
    }
  }, 180_000);

  it('refuses to migrate into a database that holds another store (exit 1), and a directory that is no store (exit 2)', async () => {
    const url = await engine.createDatabase();
    const first = join(root, 'first');
    const second = join(root, 'second');
    for (const dir of [first, second]) {
      const r = await startReceiver({
        dataDir: dir,
        host: '127.0.0.1',
        port: 0,
        enrollTokens: [token],
        log: silentLogger(),
      });
      const dev = new FakeDevice({ deviceId: 'rig-x', spoolDir: join(dir, '..', `${dir}-spool`) });
      await post(r.url, dev.enrol(), { 'rigcap-enroll-token': token });
      await r.close();
    }
    expect((await runCli(['store', 'migrate', '--from', first, '--to-db', url])).code).toBe(0);
    const clash = await runCli(['store', 'migrate', '--from', second, '--to-db', url]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('RIGCAP_STORE_MIGRATE_CONFLICT');
    expect((await runCli(['store', 'migrate', '--from', join(root, 'nothing'), '--to-db', url])).code).toBe(
      2,
    );
  }, 120_000);
});
