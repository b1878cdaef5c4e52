// What a fleet run must leave behind, checked from outside the receivers: the bucket's objects, the
// log's leaves in PostgreSQL, every checkpoint a receiver answered during the run, every receipt a
// device kept.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '../../agent/log.ts';
import { openNote, parseCheckpoint, type Checkpoint } from '../../agent/records/checkpoint.ts';
import {
  inTotoPayloadType,
  parseEnvelope,
  preAuthEncoding,
  serializeEnvelope,
} from '../../agent/records/dsse.ts';
import { spkiBlocksOfPem, verifySignature } from '../../agent/records/ed25519.ts';
import { leafHash, MerkleTree, verifyConsistency } from '../../agent/records/merkle.ts';
import { decodeRecord } from '../../agent/records/record-decode.ts';
import { openReceiverState } from '../../receiver/state/open.ts';
import type { SentRecord } from './fleet-devices.ts';

/** An S3 client for the test engine's endpoint and credentials. */
export function s3ClientOf(endpoint: string, env: Readonly<Record<string, string>>): S3Client {
  return new S3Client({
    endpoint,
    region: env['AWS_REGION'] ?? 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? '',
      secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? '',
    },
  });
}

/** Every object under `prefix`: key → size. */
export async function listBucket(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token === undefined ? {} : { ContinuationToken: token }),
      }),
    );
    for (const o of page.Contents ?? []) out.set(o.Key ?? '', o.Size ?? 0);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/** SHA-256 (hex) of an object, streamed. */
export async function objectSha256(s3: S3Client, bucket: string, key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of res.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The log's leaves as PostgreSQL holds them. */
export async function logLeaves(dbUrl: string): Promise<Buffer[]> {
  const { state } = await openReceiverState({ db: { url: dbUrl }, log: silentLogger() });
  try {
    return await state.leavesFrom(0);
  } finally {
    await state.close();
  }
}

/** The leaf hash of a submitted record, as the log computes it. */
export function leafOf(recordBytes: Uint8Array): Buffer {
  const env = parseEnvelope(recordBytes);
  if (env === undefined) throw new Error('not an envelope');
  return leafHash(serializeEnvelope(env.envelope));
}

const trees = new WeakMap<readonly Buffer[], MerkleTree>();

/** Root of the first `size` leaves (one tree kept per leaves array). */
export function rootAt(leaves: readonly Buffer[], size: number): Buffer {
  let tree = trees.get(leaves);
  if (tree === undefined) trees.set(leaves, (tree = new MerkleTree(leaves)));
  return tree.root(size);
}

/** Verifies checkpoint notes with the store key; returns them distinct and sorted by size. */
export function openCheckpoints(
  notes: Iterable<string>,
  store: { storeId: string; publicKeyPem: string },
): Checkpoint[] {
  const key: KeyObject = createPublicKey(store.publicKeyPem);
  const origin = `rigcap.store/${store.storeId}`;
  const seen = new Map<string, Checkpoint>();
  for (const note of notes) {
    const body = openNote(note, { name: origin, publicKey: key });
    const cp = body === undefined ? undefined : parseCheckpoint(body);
    if (cp === undefined) throw new Error(`a checkpoint does not verify with the store key: ${note}`);
    seen.set(`${cp.size}:${cp.root.toString('hex')}`, cp);
  }
  return [...seen.values()].sort((a, b) => a.size - b.size);
}

/**
 * Problems with the checkpoints: two roots for one size, a pair not proven consistent by the
 * receiver's proof, or a root that is not the root of the final log's prefix.
 */
export async function checkpointProblems(
  cps: readonly Checkpoint[],
  leaves: readonly Buffer[],
  proofOf: (first: number, second: number) => Promise<string[]>,
): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    if (cp.size > leaves.length)
      problems.push(`checkpoint of size ${cp.size} beyond the log's ${leaves.length}`);
    else if (!rootAt(leaves, cp.size).equals(cp.root))
      problems.push(`checkpoint ${cp.size}: not a prefix of the log`);
    const prev = cps[i - 1];
    if (prev === undefined) continue;
    if (prev.size === cp.size) {
      problems.push(`two roots for size ${cp.size}`);
      continue;
    }
    const proof = (await proofOf(prev.size, cp.size)).map((h) => Buffer.from(h, 'base64'));
    const ok = verifyConsistency({
      firstSize: prev.size,
      firstRoot: prev.root,
      secondSize: cp.size,
      secondRoot: cp.root,
      proof,
    });
    if (!ok) problems.push(`no consistency from ${prev.size} to ${cp.size}`);
  }
  return problems;
}

/**
 * Problems with one kept receipt: not signed by the store, naming another record, or a log position
 * that the final log does not hold (the record's leaf at the index, the root of the prefix).
 */
export function receiptProblem(
  sent: SentRecord,
  receiptJson: string | null | undefined,
  o: { storeId: string; spki: Uint8Array; leaves: readonly Buffer[] },
): string | undefined {
  const name = `${sent.signerId}/${sent.seq}`;
  if (receiptJson === null || receiptJson === undefined) return `${name}: no receipt kept`;
  const decoded = decodeRecord(new TextEncoder().encode(receiptJson));
  if (!decoded.ok) return `${name}: receipt does not decode`;
  const r = decoded.record;
  if (r.name !== 'custody-receipt' || r.chain.deviceId !== o.storeId) return `${name}: not a store receipt`;
  if (!verifySignature(o.spki, preAuthEncoding(inTotoPayloadType, r.payload), r.signature))
    return `${name}: receipt signature does not verify`;
  const p = r.predicate as unknown as {
    record: { signer: string; seq: number; sha256: string };
    log: { index: number; size: number; root: string };
  };
  const mine = decodeRecord(sent.bytes);
  if (!mine.ok || p.record.signer !== sent.signerId || p.record.seq !== sent.seq)
    return `${name}: receipt names another record`;
  if (p.record.sha256 !== mine.record.payloadSha256) return `${name}: receipt names other bytes`;
  if (!(o.leaves[p.log.index]?.equals(leafOf(sent.bytes)) ?? false))
    return `${name}: log index ${p.log.index} holds another leaf`;
  if (p.log.size > o.leaves.length || rootAt(o.leaves, p.log.size).toString('hex') !== p.log.root)
    return `${name}: receipt root is not the log's root at size ${p.log.size}`;
  return undefined;
}

/** The SPKI bytes of a PEM public key. */
export function spkiOf(pem: string): Uint8Array {
  const spki = spkiBlocksOfPem(pem)[0];
  if (spki === undefined) throw new Error('not an SPKI PEM');
  return spki;
}
