// Device authentication state in PostgreSQL (migration 004_device_auth): the registered devices,
// the nonces of signed requests and per-device quota use, shared by every receiver on the
// database, so an operator's registration reaches every instance at once, a request replayed to
// another instance is refused, and a device's day of bytes is one count however its requests are
// spread.
import type { Pool } from 'pg';
import type { RegisteredDevice } from './devices.ts';
import type { DeviceDirectory } from './device-directory.ts';
import type { NonceStore } from './nonces.ts';
import {
  checkDayBytes,
  checkOpenUploads,
  checkUploadSize,
  quotaDay,
  type DeviceQuotas,
  type QuotaLedger,
} from './quotas.ts';
import { checkDeviceId, newEnrollToken, tokenSha256 } from './devices.ts';

/** Registered devices in the `receiver_devices` table. */
export class PgDeviceDirectory implements DeviceDirectory {
  readonly #pool: Pool;
  readonly where: string;

  constructor(pool: Pool, where = 'the store database') {
    this.#pool = pool;
    this.where = where;
  }

  async lookup(id: string): Promise<RegisteredDevice | undefined> {
    const r = await this.#pool.query<{ token_sha256: string; added_at: Date }>(
      'SELECT token_sha256, added_at FROM receiver_devices WHERE device_id = $1',
      [id],
    );
    const row = r.rows[0];
    return row === undefined
      ? undefined
      : { id, tokenSha256: row.token_sha256, addedAt: row.added_at.toISOString() };
  }

  async list(): Promise<RegisteredDevice[]> {
    const r = await this.#pool.query<{ device_id: string; token_sha256: string; added_at: Date }>(
      'SELECT device_id, token_sha256, added_at FROM receiver_devices ORDER BY device_id',
    );
    return r.rows.map((row) => ({
      id: row.device_id,
      tokenSha256: row.token_sha256,
      addedAt: row.added_at.toISOString(),
    }));
  }

  async add(id: string): Promise<string> {
    checkDeviceId(id);
    const token = newEnrollToken();
    await this.#pool.query(
      `INSERT INTO receiver_devices (device_id, token_sha256) VALUES ($1, $2)
       ON CONFLICT (device_id) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256, added_at = now()`,
      [id, tokenSha256(token)],
    );
    return token;
  }

  /** Copies a registration as it is (its token digest kept); one already here is left alone. */
  async put(device: RegisteredDevice): Promise<boolean> {
    checkDeviceId(device.id);
    const r = await this.#pool.query(
      `INSERT INTO receiver_devices (device_id, token_sha256, added_at) VALUES ($1, $2, $3)
       ON CONFLICT (device_id) DO NOTHING`,
      [device.id, device.tokenSha256, device.addedAt],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.#pool.query('DELETE FROM receiver_devices WHERE device_id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }
}

/** Claims between expired-nonce sweeps. */
const sweepEvery = 1000;

/**
 * A CTE that turns `synchronous_commit` off for its statement's own transaction: the statement's
 * commit does not wait for its WAL to reach the disk. Any later commit that does wait (a request's
 * admission, an upload's state) flushes this one with it, since the WAL is written in order; so
 * a PostgreSQL crash can lose a nonce or a quota count only when nothing the request wrote after
 * it was kept either. The statement must read from `async` for the CTE to run.
 */
const asyncCommit = "WITH async AS (SELECT set_config('synchronous_commit', 'off', true))";

/** Nonces in the `receiver_nonces` table: one claim is one INSERT, atomic across instances. */
export class PgNonceStore implements NonceStore {
  readonly #pool: Pool;
  #claims = 0;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  async claim(keyid: string, nonce: string, expiresAtS: number, nowS: number): Promise<boolean> {
    if (++this.#claims % sweepEvery === 0)
      await this.#pool.query('DELETE FROM receiver_nonces WHERE expires_at_s < $1', [nowS]);
    // A row whose window has passed may be taken again; a live one is a replay. Committed without
    // waiting for the WAL flush (see asyncCommit).
    const r = await this.#pool.query(
      `${asyncCommit} INSERT INTO receiver_nonces (keyid, nonce, expires_at_s) SELECT $1::text, $2::text, $3::bigint FROM async
       ON CONFLICT (keyid, nonce) DO UPDATE SET expires_at_s = EXCLUDED.expires_at_s
         WHERE receiver_nonces.expires_at_s < $4
       RETURNING 1`,
      [keyid, nonce, expiresAtS, nowS],
    );
    return (r.rowCount ?? 0) === 1;
  }
}

/** Quota use in `receiver_quota_days` and `receiver_open_uploads`, counted across instances. */
export class PgQuotaLedger implements QuotaLedger {
  readonly quotas: DeviceQuotas;
  readonly #pool: Pool;
  readonly #now: () => Date;

  constructor(pool: Pool, quotas: DeviceQuotas, now: () => Date = () => new Date()) {
    this.#pool = pool;
    this.quotas = quotas;
    this.#now = now;
  }

  async checkCreate(device: string, uploadLength: number): Promise<void> {
    checkUploadSize(this.quotas, device, uploadLength);
    if (this.quotas.concurrentUploads === 0) return;
    const r = await this.#pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM receiver_open_uploads WHERE device_id = $1',
      [device],
    );
    checkOpenUploads(this.quotas, device, Number(r.rows[0]?.n ?? 0));
  }

  async opened(device: string, uploadId: string): Promise<void> {
    await this.#pool.query(
      'INSERT INTO receiver_open_uploads (upload_id, device_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [uploadId, device],
    );
  }

  async finished(device: string, uploadId: string): Promise<void> {
    await this.#pool.query('DELETE FROM receiver_open_uploads WHERE upload_id = $1 AND device_id = $2', [
      uploadId,
      device,
    ]);
  }

  async checkPart(device: string, partBytes: number): Promise<void> {
    if (this.quotas.bytesPerDay === 0) return;
    const r = await this.#pool.query<{ bytes: string }>(
      'SELECT bytes FROM receiver_quota_days WHERE device_id = $1 AND day = $2',
      [device, quotaDay(this.#now())],
    );
    checkDayBytes(this.quotas, device, Number(r.rows[0]?.bytes ?? 0), partBytes);
  }

  async accepted(device: string, partBytes: number): Promise<void> {
    await this.#pool.query(
      `${asyncCommit} INSERT INTO receiver_quota_days (device_id, day, bytes) SELECT $1::text, $2::date, $3::bigint FROM async
       ON CONFLICT (device_id, day) DO UPDATE SET bytes = receiver_quota_days.bytes + EXCLUDED.bytes`,
      [device, quotaDay(this.#now()), partBytes],
    );
  }
}
