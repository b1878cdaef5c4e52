// Audits a store's log from the outside: the latest checkpoint must be signed by the store key
// and extend the last checkpoint this auditor saw (same tree, never smaller, never another root).
// Sources: a running receiver (its checkpoint and consistency proofs over HTTP) or an embedded
// store directory (the log leaves read from its state file, proofs computed here).
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openNote, parseCheckpoint, type Checkpoint } from '../agent/records/checkpoint.ts';
import { MerkleTree, verifyConsistency } from '../agent/records/merkle.ts';
import { embeddedStatePath } from './state/open.ts';

/** What the auditor keeps between runs. */
export interface AuditState {
  origin: string;
  size: number;
  /** Base64 root, as in the checkpoint. */
  root: string;
  /** The store key seen first (a later key is a finding, not silently accepted). */
  publicKeyPem: string | null;
}

/** A log to audit. */
export interface AuditSource {
  origin: string;
  publicKeyPem: string | null;
  /** The latest checkpoint, verified against the store key when the source has one. */
  checkpoint(): Promise<Checkpoint>;
  /** Consistency proof from `first` to `second` entries. */
  consistency(first: number, second: number): Promise<Buffer[]>;
}

/** What a source found wrong with the log itself (a bad signature, tiles that do not hash to it). */
export class AuditFinding extends Error {
  readonly problem: string;

  constructor(problem: string, message: string) {
    super(message);
    this.name = 'AuditFinding';
    this.problem = problem;
  }
}

/** The result of one audit. */
export interface AuditReport {
  ok: boolean;
  origin: string;
  size: number;
  root: string;
  previous: { size: number; root: string } | null;
  /** Why the audit failed: fork, shrink, key-changed, origin-changed, bad-signature or tampered. */
  problem?: string;
  reason?: string;
}

/** A running receiver: GET /v1/store, /v1/log/checkpoint, /v1/log/consistency. */
export async function httpAuditSource(baseUrl: string): Promise<AuditSource> {
  const base = baseUrl.replace(/\/+$/, '');
  const get = async (path: string): Promise<Response> => {
    const res = await fetch(`${base}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return res;
  };
  const store = (await (await get('/v1/store')).json()) as { origin: string; publicKeyPem: string };
  const key: KeyObject = createPublicKey(store.publicKeyPem);
  return {
    origin: store.origin,
    publicKeyPem: store.publicKeyPem,
    async checkpoint() {
      const note = await (await get('/v1/log/checkpoint')).text();
      const body = openNote(note, { name: store.origin, publicKey: key });
      const cp = body === undefined ? undefined : parseCheckpoint(body);
      if (cp === undefined || cp.origin !== store.origin)
        throw new Error('the checkpoint is not signed by the store key');
      return cp;
    },
    async consistency(first, second) {
      const res = await get(`/v1/log/consistency?first=${first}&second=${second}`);
      return ((await res.json()) as { proof: string[] }).proof.map((h) => Buffer.from(h, 'base64'));
    },
  };
}

/** An embedded store directory: the leaves from its state file (read-only), proofs computed here. */
export function directoryAuditSource(dir: string, storeId: string): AuditSource {
  const path = embeddedStatePath(dir);
  if (!existsSync(path)) throw new Error(`${dir} is not an embedded store (no ${path})`);
  const db = new Database(path, { readonly: true, fileMustExist: true });
  let leaves: Buffer[];
  try {
    leaves = (
      db.prepare('SELECT leaf_hash FROM receiver_log ORDER BY idx').all() as Array<{ leaf_hash: Buffer }>
    ).map((r) => r.leaf_hash);
  } finally {
    db.close();
  }
  const tree = new MerkleTree(leaves);
  const origin = `rigcap.store/${storeId}`;
  return {
    origin,
    publicKeyPem: null,
    checkpoint: async () => ({ origin, size: tree.size, root: tree.root() }),
    consistency: async (first, second) => tree.consistencyProof(first, second),
  };
}

/** Checks the source's latest checkpoint against `previous`; the caller keeps `next` when ok. */
export async function auditLog(
  source: AuditSource,
  previous: AuditState | undefined,
): Promise<{ report: AuditReport; next: AuditState | undefined }> {
  try {
    return await auditCheckpoint(source, previous);
  } catch (err) {
    if (!(err instanceof AuditFinding)) throw err;
    const report: AuditReport = {
      ok: false,
      origin: source.origin,
      size: previous?.size ?? 0,
      root: previous?.root ?? '',
      previous: previous === undefined ? null : { size: previous.size, root: previous.root },
      problem: err.problem,
      reason: err.message,
    };
    return { report, next: undefined };
  }
}

async function auditCheckpoint(
  source: AuditSource,
  previous: AuditState | undefined,
): Promise<{ report: AuditReport; next: AuditState | undefined }> {
  const cp = await source.checkpoint();
  const root = cp.root.toString('base64');
  const base = {
    origin: cp.origin,
    size: cp.size,
    root,
    previous: previous === undefined ? null : { size: previous.size, root: previous.root },
  };
  const fail = (problem: string, reason: string): { report: AuditReport; next: undefined } => ({
    report: { ok: false, ...base, problem, reason },
    next: undefined,
  });
  if (previous !== undefined) {
    if (previous.origin !== cp.origin) return fail('origin-changed', `the log was ${previous.origin}`);
    if (
      previous.publicKeyPem !== null &&
      source.publicKeyPem !== null &&
      previous.publicKeyPem !== source.publicKeyPem
    )
      return fail('key-changed', 'the store signs with another key than the one seen first');
    if (cp.size < previous.size)
      return fail('shrink', `the log shrank from ${previous.size} to ${cp.size} entries`);
    const consistent = verifyConsistency({
      firstSize: previous.size,
      firstRoot: Buffer.from(previous.root, 'base64'),
      secondSize: cp.size,
      secondRoot: cp.root,
      proof: previous.size === cp.size ? [] : await source.consistency(previous.size, cp.size),
    });
    if (!consistent)
      return fail('fork', `the log at ${cp.size} entries does not extend the one at ${previous.size}`);
  }
  return {
    report: { ok: true, ...base },
    next: {
      origin: cp.origin,
      size: cp.size,
      root,
      publicKeyPem: previous?.publicKeyPem ?? source.publicKeyPem,
    },
  };
}
