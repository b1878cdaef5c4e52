// Legal holds on the PostgreSQL state: `rigcap store hold --db URL --key FILE` signs the hold into
// the store's chain in the database, `release-hold` lifts it, and the expiry pass reads the same.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { isSessionHeld } from '../../../receiver/retention/store-retention.ts';
import { openReceiverState } from '../../../receiver/state/open.ts';
import { loadOrCreateStoreKey } from '../../../receiver/store-key.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason, startPostgres, type PostgresEngine } from '../../support/engines/postgres.ts';

describe.skipIf(postgresSkipReason !== undefined)('legal hold on the PostgreSQL state', () => {
  let engine: PostgresEngine;
  let root: string;

  beforeAll(async () => {
    engine = await startPostgres();
    root = mkdtempSync(join(tmpdir(), 'rigcap-hold-pg-'));
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('holds and releases a session with signed store records in the database', async () => {
    const url = await engine.createDatabase();
    const keyFile = join(root, 'secrets', 'store.key');
    await loadOrCreateStoreKey({ keyFile });
    const env = { RIGCAP_LOG_LEVEL: 'silent', PGPASSWORD: '' };
    const hold = await runCli(
      ['store', 'hold', '--db', url, '--key', keyFile, '--session', 's-42', '--json'],
      { env },
    );
    expect(hold.code, hold.stderr).toBe(0);
    expect(JSON.parse(hold.stdout)).toMatchObject({ held: true, seq: 2 });
    const { state } = await openReceiverState({ db: { url }, log: silentLogger() });
    try {
      expect(await isSessionHeld(state, 's-42')).toBe(true);
      const release = await runCli(
        ['store', 'release-hold', '--db', url, '--key', keyFile, '--session', 's-42'],
        {
          env,
        },
      );
      expect(release.code, release.stderr).toBe(0);
      expect(await isSessionHeld(state, 's-42')).toBe(false);
      expect(await state.meta('store.seq')).toBe('3');
      // Enrol, hold and release are three entries of the store's log.
      expect((await state.leavesFrom(0)).length).toBe(3);
    } finally {
      await state.close();
    }
  });
});
