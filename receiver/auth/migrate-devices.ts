// `rigcap store migrate` carries the device registry too: the devices registered on an embedded
// store (DIR.secrets/devices.json) are registered in the PostgreSQL store with the same token
// digests, so a device given its token before the move still enrols after it, exactly once.
import type { Logger } from '../../agent/log.ts';
import type { StateDatabase } from '../state/open.ts';
import { openPgReceiverState } from '../state/pg/pg-state.ts';
import { FileDeviceDirectory } from './device-directory.ts';
import { defaultDevicesPath } from './devices.ts';
import { PgDeviceDirectory } from './pg-auth.ts';

/** Registers the embedded store's devices in the database; returns how many were added. */
export async function migrateDeviceRegistry(o: {
  fromDir: string;
  to: StateDatabase;
  log: Logger;
}): Promise<number> {
  const devices = await new FileDeviceDirectory(defaultDevicesPath(o.fromDir)).list();
  if (devices.length === 0) return 0;
  const state = await openPgReceiverState({ ...o.to, maxConnections: 1, log: o.log });
  try {
    const directory = new PgDeviceDirectory(state.pool);
    let added = 0;
    for (const device of devices) if (await directory.put(device)) added += 1;
    o.log.info({ devices: devices.length, added }, 'device registry migrated');
    return added;
  } finally {
    await state.close();
  }
}
