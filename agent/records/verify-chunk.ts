// One chunk against its record: the bytes hash to the signed digest, the calibration attachments are
// the ones the record names; and a chunk no record of the chain names, with what its sidecar says.
import { createHash } from 'node:crypto';
import type { CaptureChunkPredicate } from './predicates.ts';
import { decodeRecord, type DecodedRecord } from './record-decode.ts';
import { calibrationAttachmentDigests } from './verify-mcap.ts';
import type { FileSource } from './verify-source.ts';
import type { VerifyFailure } from './verify-codes.ts';

/** Hashes a chunk and checks its size, digest and calibration attachments against its record. */
export async function checkChunk(
  source: FileSource,
  file: string,
  record: DecodedRecord,
  p: CaptureChunkPredicate,
): Promise<VerifyFailure[]> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of source.stream(file)) {
    hash.update(piece);
    bytes += piece.byteLength;
  }
  const digest = hash.digest('hex');
  const want = record.subject[0]?.digest.sha256;
  if (digest !== want || String(bytes) !== p.bytes) {
    return [
      {
        file,
        code: 'VERIFY_DIGEST_MISMATCH',
        reason: `sha256 ${digest.slice(0, 12)}… (${bytes} bytes), record signs ${String(want).slice(0, 12)}… (${p.bytes} bytes)`,
      },
    ];
  }
  const found = await calibrationAttachmentDigests(source, file);
  if (!found.ok) return [{ file, code: 'VERIFY_CALIBRATION_MISMATCH', reason: found.reason }];
  const problems: string[] = [];
  for (const ref of p.calibration) {
    const have = found.digests.get(ref.sensor);
    const wantDigest = ref.digest.replace(/^sha256:/, '');
    if (have === undefined) problems.push(`calibration/${ref.sensor}.yaml missing`);
    else if (have !== wantDigest)
      problems.push(
        `calibration/${ref.sensor}.yaml hashes to ${have.slice(0, 12)}…, record says ${wantDigest.slice(0, 12)}…`,
      );
  }
  // A record signed after a crash may state that the calibration could not be read back; then an
  // attachment it does not name is what it said, not a mismatch (a ref it does name must still match).
  if (!statesUnrecovered(p, 'calibration')) {
    for (const sensor of found.digests.keys()) {
      if (!p.calibration.some((r) => r.sensor === sensor))
        problems.push(`calibration/${sensor}.yaml is not in the record`);
    }
  }
  return problems.length === 0
    ? []
    : [{ file, code: 'VERIFY_CALIBRATION_MISMATCH', reason: problems.join('; ') }];
}

/**
 * Whether a record's recovery lineage states that `field` could not be read back. A recovery entry
 * without an `unrecovered` list (an older agent) stated that no capture-time context was recorded.
 */
export function statesUnrecovered(p: Pick<CaptureChunkPredicate, 'transforms'>, field: string): boolean {
  return p.transforms.some((t) => {
    if (t.kind !== 'recovery') return false;
    const unrecovered = t['unrecovered'];
    return unrecovered === undefined || (Array.isArray(unrecovered) && unrecovered.includes(field));
  });
}

/** A chunk file no chain record names: unsigned, or signed by a record beyond the chain's end. */
export async function checkOrphanChunk(
  source: FileSource,
  file: string,
  name: string,
  heads: ReadonlyMap<string, number>,
  session: { current: boolean },
): Promise<VerifyFailure[]> {
  const sidecar = await source.readFile(`${file}.dsse.json`);
  const decoded = sidecar === undefined ? undefined : decodeRecord(sidecar);
  if (decoded === undefined || !decoded.ok)
    return [
      {
        file,
        code: 'VERIFY_UNSIGNED_CHUNK',
        reason: session.current
          ? "no record in the chain names this chunk; it is in the device's current session, committed after the chain's last record (the agent signs such a chunk when it starts next)"
          : 'no record in the chain names this chunk',
      },
    ];
  const { chain, subject } = decoded.record;
  const out: VerifyFailure[] = [];
  if (chain.seq > (heads.get(chain.deviceId) ?? 0)) {
    out.push({
      file: `${file}.dsse.json`,
      code: 'VERIFY_TAIL',
      reason: `names seq ${chain.seq} of ${chain.deviceId}, beyond the chain's end (${heads.get(chain.deviceId) ?? 0})`,
    });
  }
  if (subject[0]?.name !== name)
    out.push({ file, code: 'VERIFY_SUBJECT_NAME', reason: `its record signs ${subject[0]?.name ?? '?'}` });
  if (out.length === 0)
    out.push({ file, code: 'VERIFY_UNSIGNED_CHUNK', reason: 'its sidecar is not in the chain' });
  return out;
}
