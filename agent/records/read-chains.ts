// Every signer's decoded chain under a spool or store root, read through the FileSource port.
import type { DecodedRecord } from './record-decode.ts';
import { decodeRecord } from './record-decode.ts';
import type { FileSource } from './verify-source.ts';

/** Decoded chains of every signer under `records/`, each sorted by seq (undecodable files skipped). */
export async function readChains(source: FileSource): Promise<Map<string, DecodedRecord[]>> {
  const chains = new Map<string, DecodedRecord[]>();
  for (const signer of await source.list('records')) {
    const records: DecodedRecord[] = [];
    for (const name of await source.list(`records/${signer}`)) {
      if (!/^[0-9]{12}\.dsse\.json$/.test(name)) continue;
      const bytes = await source.readFile(`records/${signer}/${name}`);
      const decoded = bytes === undefined ? undefined : decodeRecord(bytes);
      if (decoded?.ok === true) records.push(decoded.record);
    }
    chains.set(
      signer,
      records.sort((a, b) => a.chain.seq - b.chain.seq),
    );
  }
  return chains;
}
