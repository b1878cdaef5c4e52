// Store retention: legal holds and the expiry pass. Each is a `retention-action` record signed in
// the store's own chain and appended to its log (a hold deletes nothing and says so in its reason);
// the records of expired chunks stay, so `rigcap verify STORE` still passes, and a blob missing
// without such a record is still VERIFY_CHUNK_MISSING. State: meta keys `retention.hold.<session>`
// (non-empty while held) and `retention.deleted.<sha256>` (the reason a blob was deleted).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { retentionSubject } from '../../agent/records/subjects.ts';
import { StoreChain, type SignedReceipt } from '../ingest/store-chain.ts';
import { StoreLog } from '../ingest/store-log.ts';
import type { StoreLayout } from '../layout.ts';
import type { ReceiverState, RecordRow, StateReader } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import { retentionRuleFor, type RetentionPolicy } from './policy.ts';

const dayNs = 86_400_000_000_000n;

/** What the retention operations act on. */
export interface RetentionDeps {
  state: ReceiverState;
  key: StoreKey;
  /** The store directory whose files an expiry removes; none for a store without one. */
  layout?: StoreLayout;
  /** Removes a stored blob by digest (the local blob store's file); none keeps blobs. */
  deleteBlob?: (sha256: string) => Promise<void>;
}

/** One chunk an expiry pass deleted. */
export interface ExpiredChunk {
  session: string;
  name: string;
  sha256: string;
  reason: string;
}

/** The outcome of one expiry pass. */
export interface ExpiryResult {
  deleted: ExpiredChunk[];
  /** Chunks past their retention kept because their session is held. */
  held: Array<{ session: string; name: string }>;
  /** Store chain seqs of the retention-action records signed. */
  records: number[];
}

/** True when the blob was deleted by a signed retention-action (a release must not name it). */
export async function isBlobExpired(state: StateReader, sha256: string): Promise<boolean> {
  return ((await state.meta(`retention.deleted.${sha256}`)) ?? '') !== '';
}

/** True while a legal hold is on the session. */
export async function isSessionHeld(state: StateReader, sessionId: string): Promise<boolean> {
  return ((await state.meta(`retention.hold.${sessionId}`)) ?? '') !== '';
}

async function signAction(
  deps: RetentionDeps,
  action: { deleted: Array<{ session: string; name: string; sha256: string }>; reason: string },
  meta: ReadonlyArray<[string, string]>,
): Promise<SignedReceipt> {
  const log = new StoreLog(deps.key);
  const chain = new StoreChain(deps.key);
  await log.catchUp(deps.state);
  const signed = await deps.state.admit(async (tx) => {
    await log.catchUp(tx);
    const record = await chain.signStoreRecord(tx, log, {
      name: 'retention-action',
      subject: retentionSubject(action.deleted),
      body: { deleted: action.deleted, reason: action.reason },
    });
    for (const [k, v] of meta) await tx.setMeta(k, v);
    return record;
  });
  await deps.layout?.writeRecord(deps.key.storeId, signed.seq, signed.bytes);
  if (signed.seq === 2) {
    const enrol = await deps.state.meta('store.enrol');
    if (enrol !== undefined) await deps.layout?.writeRecord(deps.key.storeId, 1, Buffer.from(enrol, 'utf8'));
  }
  return signed;
}

/** Places (`hold: true`) or releases a legal hold on a session; returns the signed record's seq. */
export async function setLegalHold(
  deps: RetentionDeps,
  options: { sessionId: string; hold: boolean; note?: string },
): Promise<number> {
  const { sessionId, hold } = options;
  const note = options.note === undefined ? '' : `: ${options.note}`;
  const reason = hold
    ? `legal hold placed on session ${sessionId}${note}`
    : `legal hold released on session ${sessionId}${note}`;
  const signed = await signAction(deps, { deleted: [], reason }, [
    [`retention.hold.${sessionId}`, hold ? reason : ''],
  ]);
  return signed.seq;
}

interface ChunkOfRow {
  session: string;
  name: string;
  sha256: string;
  purpose: string | null;
  site: string | null;
  receivedNs: bigint;
}

function decode(json: string): Record<string, unknown> {
  const env = JSON.parse(json) as { payload: string };
  const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as {
    predicate: Record<string, unknown>;
  };
  return statement.predicate;
}

/** The chunk a capture-chunk row names, with the purpose and site its record states. */
function chunkOf(row: RecordRow): ChunkOfRow | undefined {
  if (row.predicate !== 'capture-chunk' || row.sessionId === null) return undefined;
  if (row.chunkName === null || row.blobSha256 === null) return undefined;
  const p = decode(row.envelopeJson) as {
    policy?: { purpose?: string };
    context?: { purpose?: string | null; site?: { id: string } | null };
  };
  const receipt = decode(row.receiptJson) as { receivedWallNs?: string };
  return {
    session: row.sessionId,
    name: row.chunkName,
    sha256: row.blobSha256,
    purpose: p.context?.purpose ?? p.policy?.purpose ?? null,
    site: p.context?.site?.id ?? null,
    receivedNs: BigInt(receipt.receivedWallNs ?? '0'),
  };
}

/** Chunks past their retention at `nowNs`, grouped by the reason that expires them. */
async function findExpired(
  deps: RetentionDeps,
  policy: RetentionPolicy,
  nowNs: bigint,
): Promise<{ due: Map<string, ExpiredChunk[]>; held: ExpiryResult['held']; kept: Set<string> }> {
  const due = new Map<string, ExpiredChunk[]>();
  const held: ExpiryResult['held'] = [];
  const kept = new Set<string>();
  for (const row of await deps.state.allRecords()) {
    const chunk = chunkOf(row);
    if (chunk === undefined || (await isBlobExpired(deps.state, chunk.sha256))) continue;
    const rule = retentionRuleFor(policy, chunk);
    if (rule === undefined || chunk.receivedNs + BigInt(rule.days) * dayNs > nowNs) {
      kept.add(chunk.sha256);
    } else if (await isSessionHeld(deps.state, chunk.session)) {
      kept.add(chunk.sha256);
      held.push({ session: chunk.session, name: chunk.name });
    } else {
      const reason = `expired: ${rule.rule} after custody (store policy sha256 ${policy.sha256})`;
      const list = due.get(reason) ?? [];
      list.push({ session: chunk.session, name: chunk.name, sha256: chunk.sha256, reason });
      due.set(reason, list);
    }
  }
  return { due, held, kept };
}

/**
 * Deletes every chunk past its retention at `nowNs` whose session is not held: one signed
 * retention-action per reason first, then the files (a crash between leaves a blob the next pass
 * removes, never a deletion without its record).
 */
export async function expireStore(
  deps: RetentionDeps,
  policy: RetentionPolicy,
  nowNs: bigint,
): Promise<ExpiryResult> {
  const { due, held, kept } = await findExpired(deps, policy, nowNs);
  const result: ExpiryResult = { deleted: [], held, records: [] };
  for (const [reason, chunks] of due) {
    const deleted = chunks.map(({ session, name, sha256 }) => ({ session, name, sha256 }));
    const meta = chunks.map((c): [string, string] => [`retention.deleted.${c.sha256}`, reason]);
    const signed = await signAction(deps, { deleted, reason }, meta);
    result.records.push(signed.seq);
    result.deleted.push(...chunks);
  }
  for (const c of result.deleted) {
    if (deps.layout !== undefined)
      await rm(join(deps.layout.root, deps.layout.chunkPath(c.session, c.name)), { force: true });
    // The same bytes may be another kept chunk's blob.
    if (!kept.has(c.sha256)) await deps.deleteBlob?.(c.sha256);
  }
  return result;
}
