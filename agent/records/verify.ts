// The offline verifier's core: reads a spool, store or export through a FileSource and reports
// every failure with a stable code. No filesystem access of its own.
import { keyIdOf, spkiBlocksOfPem } from './ed25519.ts';
import { decodeRecord, type DecodedRecord } from './record-decode.ts';
import { verifySignerChain } from './verify-chain.ts';
import type { VerifyFailure } from './verify-codes.ts';
import { verifySessions } from './verify-sessions.ts';
import type { FileSource } from './verify-source.ts';

/** The verifier's answer (the `--json` document of `rigcap verify`). */
export interface VerifyReport {
  ok: boolean;
  checked: { chunks: number; records: number; sessions: number };
  failures: VerifyFailure[];
  /** 'given': keys found in the tree were taken as given; 'pinned': only keys rooted in --trust. */
  trust: 'given' | 'pinned';
  signers: Array<{ id: string; headSeq: number }>;
}

export interface VerifyOptions {
  /** SPKI DER of keys trusted as roots; omitted = keys in the tree are taken as given. */
  trustedKeys?: readonly Uint8Array[];
  /** Called as work proceeds (progress bars). */
  onProgress?: (progress: { done: number; total: number; file: string }) => void;
}

const recordName = /^([0-9]{12})\.dsse\.json$/;

/** Verifies everything under the source's root. */
export async function verifyTree(source: FileSource, options: VerifyOptions = {}): Promise<VerifyReport> {
  const failures: VerifyFailure[] = [];
  const trusted =
    options.trustedKeys === undefined ? undefined : new Set(options.trustedKeys.map((k) => keyIdOf(k)));
  const signers = await source.list('records');
  const chains = new Map<string, Map<number, DecodedRecord>>();
  const heads = new Map<string, number>();
  let records = 0;
  const total = await countWork(source, signers);
  let done = 0;
  const tick = (file: string): void => {
    done++;
    options.onProgress?.({ done, total, file });
  };

  for (const signerId of signers) {
    const dir = `records/${signerId}`;
    const decoded = new Map<number, DecodedRecord>();
    const undecodable = new Set<number>();
    for (const name of await source.list(dir)) {
      const m = recordName.exec(name);
      if (m === null) {
        // Leftover temp files of an interrupted write are not records.
        if (!name.includes('.tmp'))
          failures.push({
            file: `${dir}/${name}`,
            code: 'VERIFY_RECORD_NAME',
            reason: 'not <seq 12 digits>.dsse.json',
          });
        continue;
      }
      const seq = Number(m[1]);
      const bytes = await source.readFile(`${dir}/${name}`);
      records++;
      tick(`${dir}/${name}`);
      const result = bytes === undefined ? undefined : decodeRecord(bytes);
      if (result === undefined || !result.ok) {
        undecodable.add(seq);
        failures.push({
          file: `${dir}/${name}`,
          code: result?.code ?? 'VERIFY_MALFORMED',
          reason: result?.reason ?? 'unreadable',
        });
        continue;
      }
      decoded.set(seq, result.record);
    }
    const pem = await source.readFile(`keys/${signerId}.pub.pem`);
    const chain = verifySignerChain({
      signerId,
      records: decoded,
      undecodable,
      keysFile: pem === undefined ? undefined : spkiBlocksOfPem(new TextDecoder().decode(pem)),
      trusted,
    });
    failures.push(...chain.failures);
    chains.set(signerId, decoded);
    heads.set(signerId, chain.headSeq);
  }

  const sessions = await verifySessions({ source, chains, heads, onChunk: tick });
  failures.push(...sessions.failures);
  failures.sort((a, b) => (a.file === b.file ? a.code.localeCompare(b.code) : a.file.localeCompare(b.file)));
  return {
    ok: failures.length === 0,
    checked: { chunks: sessions.chunks, records, sessions: sessions.sessions },
    failures,
    trust: trusted === undefined ? 'given' : 'pinned',
    signers: [...heads].map(([id, headSeq]) => ({ id, headSeq })),
  };
}

async function countWork(source: FileSource, signers: readonly string[]): Promise<number> {
  let n = 0;
  for (const s of signers) n += (await source.list(`records/${s}`)).length;
  for (const sid of await source.list('sessions'))
    n += (await source.list(`sessions/${sid}`)).filter((f) => f.endsWith('.mcap')).length;
  return n;
}
