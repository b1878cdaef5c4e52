// The device authentication parts of one receiver, wired to where its state lives: with a
// PostgreSQL pool the registry, nonces and quota use are in the database (shared by every
// instance); otherwise the registry is a devices file and nonces and quotas are this process's.
import type { Pool } from 'pg';
import { EnrolmentGate, FileDeviceDirectory, type DeviceDirectory } from './device-directory.ts';
import { defaultDevicesPath } from './devices.ts';
import { MemoryNonceStore } from './nonces.ts';
import { PgDeviceDirectory, PgNonceStore, PgQuotaLedger } from './pg-auth.ts';
import { QuotaBook, type DeviceQuotas, type QuotaLedger } from './quotas.ts';
import { RequestAuth, type RequestAuthOptions } from './request-auth.ts';

/** What the receiver was started with that concerns devices. */
export interface DeviceAuthOptions {
  /** One-time tokens any one device may enrol with (`--enroll-token-file`). */
  startupTokens: readonly string[];
  /** A devices file to use as the registry instead of the store's own (`--devices FILE`). */
  devicesFile?: string;
  requireSignatures?: boolean;
  quotas?: DeviceQuotas;
}

/** The parts the HTTP routes take. */
export interface DeviceAuth {
  enrolment?: EnrolmentGate;
  auth?: RequestAuth;
  quotas?: QuotaLedger;
}

/** The registry a store uses: a given devices file, the database, or DIR.secrets/devices.json. */
export function deviceDirectoryOf(o: {
  devicesFile?: string | undefined;
  pool?: Pool | undefined;
  dataDir?: string | undefined;
}): DeviceDirectory | undefined {
  if (o.devicesFile !== undefined) return new FileDeviceDirectory(o.devicesFile);
  if (o.pool !== undefined) return new PgDeviceDirectory(o.pool);
  if (o.dataDir !== undefined) return new FileDeviceDirectory(defaultDevicesPath(o.dataDir));
  return undefined;
}

/** Builds the enrolment gate, request authentication and quota ledger of one receiver. */
export function openDeviceAuth(
  options: DeviceAuthOptions,
  where: { keys: RequestAuthOptions['keys']; pool: Pool | undefined; dataDir: string | undefined },
): DeviceAuth {
  const { pool } = where;
  const directory = deviceDirectoryOf({ devicesFile: options.devicesFile, pool, dataDir: where.dataDir });
  const parts: DeviceAuth = {};
  if (directory !== undefined)
    parts.enrolment = new EnrolmentGate({ directory, startupTokens: options.startupTokens });
  if (options.requireSignatures === true) {
    const nonces = pool === undefined ? new MemoryNonceStore() : new PgNonceStore(pool);
    parts.auth = new RequestAuth({ keys: where.keys, nonces });
  }
  if (options.quotas !== undefined)
    parts.quotas =
      pool === undefined ? new QuotaBook(options.quotas) : new PgQuotaLedger(pool, options.quotas);
  return parts;
}
