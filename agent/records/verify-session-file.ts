// A session file (JSON Lines, one envelope a line) against the chain: every line is a byte-identical
// copy of a session record of the chain, none is missing, the open record is first and the close last.
import type { DecodedRecord } from './record-decode.ts';
import { decodeRecord } from './record-decode.ts';
import type { FileSource } from './verify-source.ts';
import type { VerifyFailure } from './verify-codes.ts';

/** Byte equality of two views. */
export const same = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Checks `sessions/<sid>/session.dsse.json` against the session's records in the chain. */
export async function checkSessionFile(
  source: FileSource,
  file: string,
  records: ReadonlyArray<{ signerId: string; record: DecodedRecord }>,
  o: {
    open: DecodedRecord | undefined;
    close: DecodedRecord | undefined;
    heads: ReadonlyMap<string, number>;
  },
): Promise<VerifyFailure[]> {
  const { heads } = o;
  const out: VerifyFailure[] = [];
  const text = await source.readFile(file);
  const lines = text === undefined ? [] : splitLines(text);
  if (text === undefined && records.length > 0)
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'missing' });
  const inFile = new Set<string>();
  lines.forEach((line, i) => {
    const decoded = decodeRecord(line);
    if (!decoded.ok) {
      out.push({ file, code: 'VERIFY_SESSION_FILE', reason: `line ${i + 1}: ${decoded.reason}` });
      return;
    }
    const { chain } = decoded.record;
    const twin = records.find((r) => r.signerId === chain.deviceId && r.record.chain.seq === chain.seq);
    inFile.add(`${chain.deviceId}/${chain.seq}`);
    if (twin !== undefined) {
      if (!same(twin.record.bytes, line))
        out.push({
          file,
          code: 'VERIFY_SESSION_FILE',
          reason: `line ${i + 1} differs from the chain copy of seq ${chain.seq}`,
        });
    } else if (chain.seq > (heads.get(chain.deviceId) ?? 0)) {
      out.push({
        file,
        code: 'VERIFY_TAIL',
        reason: `line ${i + 1} names seq ${chain.seq}, beyond the chain's end`,
      });
    } else {
      out.push({
        file,
        code: 'VERIFY_SESSION_FILE',
        reason: `line ${i + 1} (seq ${chain.seq}) is not a session record of the chain`,
      });
    }
  });
  for (const r of records) {
    if (!inFile.has(`${r.signerId}/${r.record.chain.seq}`) && text !== undefined)
      out.push({ file, code: 'VERIFY_SESSION_FILE', reason: `lacks seq ${r.record.chain.seq}` });
  }
  const firstLine = lines[0];
  const lastLine = lines.at(-1);
  if (o.open !== undefined && firstLine !== undefined && !same(firstLine, o.open.bytes))
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'first line is not the open record' });
  if (o.close !== undefined && lastLine !== undefined && !same(lastLine, o.close.bytes))
    out.push({ file, code: 'VERIFY_SESSION_FILE', reason: 'last line is not the close record' });
  return out;
}

/** Lines of a JSON Lines file, each with its newline (the unit compared to a chain copy). */
function splitLines(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.byteLength; i++) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < bytes.byteLength) out.push(bytes.subarray(start));
  return out;
}
