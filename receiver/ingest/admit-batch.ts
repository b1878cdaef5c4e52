// Admitting a batch of records in one transaction of the state port (one admission lock, a few
// round trips for the whole batch). Inside: each record's checks run in chain order per device
// against what the batch prefetched and what the records before it added; a refused record's
// writes are undone and the rest go on. The batch's records are logged first, then one custody
// receipt per record naming the tree head over them, so one signed checkpoint and one inclusion
// proof per record serve every receipt of the batch (README "Store log").
import { RigcapError } from '../../agent/errors.ts';
import type { DsseEnvelope } from '../../agent/records/dsse.ts';
import type { ResourceDescriptor } from '../../agent/records/statement.ts';
import type { RecordView } from '../record-view.ts';
import type { BatchRead, ReceiverState, RecordPosition, RecordRow } from '../state.ts';
import { applyKeyChange, authorise, checkChain, enrol, refuse } from './admission.ts';
import { BatchTx } from './batch-tx.ts';
import type { ItemOutcome } from './group-commit.ts';
import type { ReceiptBlob, StoreChain } from './store-chain.ts';
import type { StoreLog } from './store-log.ts';

/** What POST /v1/records answers. */
export interface IngestResult {
  /** 201 first time, 200 when the same record was already held. */
  status: 200 | 201;
  receipt: DsseEnvelope;
  logIndex: number;
  /** C2SP signed note of the checkpoint the receipt's log fields name. */
  checkpoint: string;
  /** Inclusion proof of the record's leaf in that checkpoint (base64 hashes). */
  inclusionProof: string[];
}

/** A submission checked as far as it can be outside the admission lock. */
export interface PendingRecord {
  view: RecordView;
  /** The envelope as the store writes and logs it. */
  envelopeBytes: Uint8Array;
  /** The chunk blob the receipt names, or the refusal of the blob check (answered only when the record is not held). */
  blob: ItemOutcome<ReceiptBlob | undefined>;
  enrollToken: string | undefined;
  /** Digest of the registry's token for this device, when the enrolment gate matched it. */
  registeredToken?: string | undefined;
  /** The signature verified before the lock with the key chain.keyId names. */
  signatureChecked: boolean;
}

/** What a batch works with. */
export interface BatchContext {
  state: ReceiverState;
  log: StoreLog;
  chain: StoreChain;
  tokens: ReadonlySet<string>;
}

/** A committed batch: every item's answer, and the rows it admitted (for the record files). */
export interface BatchResult {
  outcomes: Array<ItemOutcome<IngestResult>>;
  admitted: RecordRow[];
}

/** What one item became before the receipts are signed. */
type Placed =
  | { kind: 'held'; row: RecordRow }
  | { kind: 'same'; first: number }
  | { kind: 'admitted'; logIndex: number; links: ResourceDescriptor[] }
  | { kind: 'refused'; error: unknown };

function positionOf(view: RecordView): string {
  return `${view.chain.deviceId}\u0000${view.chain.seq}`;
}

/** Item indices with each device's records in chain order (devices in order of first arrival). */
function chainOrder(items: readonly PendingRecord[]): number[] {
  const firstSeen = new Map<string, number>();
  for (const [i, item] of items.entries())
    if (!firstSeen.has(item.view.chain.deviceId)) firstSeen.set(item.view.chain.deviceId, i);
  const rank = (i: number): number => firstSeen.get(items[i]?.view.chain.deviceId ?? '') ?? 0;
  const seqOf = (i: number): number => items[i]?.view.chain.seq ?? 0;
  return items.map((_, i) => i).sort((a, b) => rank(a) - rank(b) || seqOf(a) - seqOf(b) || a - b);
}

/** Everything the checks of these items read, so each table is read once. */
function wantsOf(items: readonly PendingRecord[], leavesFrom: number): BatchRead {
  const wants = {
    positions: [] as RecordPosition[],
    keyids: [] as string[],
    signerIds: [] as string[],
    meta: ['store.seq', 'store.head'],
    leavesFrom,
  };
  for (const { view } of items) {
    const { deviceId, seq, keyId } = view.chain;
    for (const s of [seq - 1, seq, seq + 1]) if (s >= 1) wants.positions.push({ signerId: deviceId, seq: s });
    wants.keyids.push(keyId);
    wants.signerIds.push(deviceId);
    const revoked = view.predicate['keyId'];
    if (view.predicateName === 'device-key' && typeof revoked === 'string') wants.keyids.push(revoked);
  }
  return wants;
}

/** The checks and log entry of one record; a refusal undoes this record's writes only. */
async function place(
  ctx: BatchContext,
  tx: BatchTx,
  item: PendingRecord,
  firstAt: Map<string, number>,
  index: number,
): Promise<Placed> {
  const { view } = item;
  const earlier = firstAt.get(positionOf(view));
  if (earlier !== undefined) return { kind: 'same', first: earlier };
  const held = await tx.record(view.chain.deviceId, view.chain.seq);
  if (held !== undefined) return { kind: 'held', row: held };
  if (!item.blob.ok) return { kind: 'refused', error: item.blob.error };
  const mark = tx.mark();
  const sizeBefore = ctx.log.size;
  try {
    const enrolment = await authorise(tx, view, {
      tokens: ctx.tokens,
      enrollToken: item.enrollToken,
      registeredToken: item.registeredToken,
      signatureChecked: item.signatureChecked,
    });
    const links = await checkChain(tx, view);
    if (enrolment !== undefined) await enrol(tx, enrolment);
    await applyKeyChange(tx, view);
    await ctx.chain.ensureEnrolled(tx, ctx.log);
    const logIndex = await ctx.log.append(tx, item.envelopeBytes);
    tx.notePending(pendingRow(item, logIndex));
    firstAt.set(positionOf(view), index);
    return { kind: 'admitted', logIndex, links };
  } catch (err) {
    // Refusals come before the first log entry; anything else fails the whole batch.
    if (!(err instanceof RigcapError) || ctx.log.size !== sizeBefore) throw err;
    tx.undoTo(mark);
    return { kind: 'refused', error: err };
  }
}

/** The row of an admitted record, without its receipt yet (what later records' chain checks read). */
function pendingRow(item: PendingRecord, logIndex: number): RecordRow {
  const { view } = item;
  const blob = item.blob.ok ? item.blob.value : undefined;
  return {
    signerId: view.chain.deviceId,
    seq: view.chain.seq,
    payloadSha256: view.payloadSha256,
    prev: view.chain.prev,
    predicate: view.predicateName,
    logIndex,
    receiptJson: '',
    envelopeJson: Buffer.from(item.envelopeBytes).toString('utf8'),
    sessionId: typeof view.predicate['sessionId'] === 'string' ? view.predicate['sessionId'] : null,
    chunkName: blob?.name ?? null,
    blobSha256: blob?.sha256 ?? null,
    receiptLogIndex: null,
    checkpoint: null,
    inclusionProof: null,
  };
}

/** Signs and logs each admitted record's receipt over the tree of `size` entries; returns the rows. */
async function signReceipts(
  ctx: BatchContext,
  tx: BatchTx,
  items: readonly PendingRecord[],
  placed: readonly Placed[],
  size: number,
): Promise<Map<number, RecordRow>> {
  const rows = new Map<number, RecordRow>();
  if (!placed.some((p) => p.kind === 'admitted')) return rows;
  const root = ctx.log.rootHex(size);
  const checkpoint = ctx.log.checkpoint(size);
  for (const [i, p] of placed.entries()) {
    const item = items[i];
    if (p.kind !== 'admitted' || item === undefined) continue;
    const receipt = await ctx.chain.signReceipt(tx, item.view, {
      blob: item.blob.ok ? item.blob.value : undefined,
      log: { index: p.logIndex, size, root },
      links: p.links,
    });
    const row: RecordRow = {
      ...pendingRow(item, p.logIndex),
      receiptJson: Buffer.from(receipt.bytes).toString('utf8'),
      receiptLogIndex: await ctx.log.append(tx, receipt.bytes),
      checkpoint,
      inclusionProof: ctx.log.inclusionProof(p.logIndex, size),
    };
    await tx.insertRecord(row);
    rows.set(i, row);
  }
  return rows;
}

/** The answer for a record already held: its receipt, with a proof in the checkpoint of `size`. */
function heldAnswer(held: RecordRow, view: RecordView, log: StoreLog, size: number): IngestResult {
  if (held.payloadSha256 !== view.payloadSha256) {
    throw refuse(
      'RIGCAP_RECEIVER_CHAIN_FORK',
      `${view.chain.deviceId} seq ${view.chain.seq} is already held with another payload`,
    );
  }
  return {
    status: 200,
    receipt: JSON.parse(held.receiptJson) as DsseEnvelope,
    logIndex: held.logIndex,
    checkpoint: log.checkpoint(size),
    inclusionProof: log.inclusionProof(held.logIndex, size),
  };
}

function answerOf(
  p: Placed,
  ctx: { log: StoreLog; size: number; items: readonly PendingRecord[]; rows: Map<number, RecordRow> },
  i: number,
): ItemOutcome<IngestResult> {
  const item = ctx.items[i];
  if (item === undefined || p.kind === 'refused')
    return { ok: false, error: p.kind === 'refused' ? p.error : new Error('no item') };
  try {
    if (p.kind === 'held') return { ok: true, value: heldAnswer(p.row, item.view, ctx.log, ctx.size) };
    const row = ctx.rows.get(p.kind === 'same' ? p.first : i);
    if (row === undefined) throw new Error('an admitted record has no row');
    if (p.kind === 'same') return { ok: true, value: heldAnswer(row, item.view, ctx.log, ctx.size) };
    return {
      ok: true,
      value: {
        status: 201,
        receipt: JSON.parse(row.receiptJson) as DsseEnvelope,
        logIndex: row.logIndex,
        checkpoint: row.checkpoint ?? ctx.log.checkpoint(ctx.size),
        inclusionProof: [...(row.inclusionProof ?? [])],
      },
    };
  } catch (err) {
    return { ok: false, error: err };
  }
}

/**
 * Admits a batch in one transaction. Throws (and leaves the log as it was) when the transaction
 * fails; refusals of single records are in their outcomes.
 */
export async function admitBatch(ctx: BatchContext, items: readonly PendingRecord[]): Promise<BatchResult> {
  const placed: Placed[] = items.map(() => ({ kind: 'refused', error: new Error('not admitted') }));
  let done: { size: number; rows: Map<number, RecordRow> };
  try {
    done = await ctx.state.admit(async (stateTx) => {
      const tx = new BatchTx(stateTx);
      ctx.log.extend(await tx.prefetch(wantsOf(items, ctx.log.size)));
      const firstAt = new Map<string, number>();
      for (const i of chainOrder(items)) {
        const item = items[i];
        if (item !== undefined) placed[i] = await place(ctx, tx, item, firstAt, i);
      }
      const size = ctx.log.size;
      const rows = await signReceipts(ctx, tx, items, placed, size);
      await tx.flush();
      return { size, rows };
    });
  } catch (err) {
    ctx.log.rolledBack();
    throw err;
  }
  ctx.log.committed();
  const answerCtx = { log: ctx.log, size: done.size, items, rows: done.rows };
  return {
    outcomes: placed.map((p, i) => answerOf(p, answerCtx, i)),
    admitted: [...done.rows.values()],
  };
}
