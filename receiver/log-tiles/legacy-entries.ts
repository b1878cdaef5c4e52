// Entries of leaves the state logged before it kept entry bytes (README "Store log"): each one is
// a record's envelope, its receipt, the store's enrol record or (embedded store) one of the store's
// own records under records/<storeId>/. Indexed by leaf hash, so each is checked by what it hashes to.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../agent/errors.ts';
import { leafHash } from '../../agent/records/merkle.ts';
import type { ReceiverState } from '../state.ts';

/** Leaf hash (hex) → entry bytes for every entry the state or the store's files still hold. */
export async function legacyEntryIndex(
  state: ReceiverState,
  storeRecordsDir?: string,
): Promise<ReadonlyMap<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const add = (bytes: Buffer): void => {
    out.set(leafHash(bytes).toString('hex'), bytes);
  };
  for (const row of await state.allRecords()) {
    add(Buffer.from(row.envelopeJson, 'utf8'));
    add(Buffer.from(row.receiptJson, 'utf8'));
  }
  const enrol = await state.meta('store.enrol');
  if (enrol !== undefined) add(Buffer.from(enrol, 'utf8'));
  if (storeRecordsDir === undefined) return out;
  let names: string[];
  try {
    names = await readdir(storeRecordsDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return out;
    throw err;
  }
  for (const name of names.filter((n) => n.endsWith('.dsse.json')))
    add(await readFile(join(storeRecordsDir, name)));
  return out;
}
