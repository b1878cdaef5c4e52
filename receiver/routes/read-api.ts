// The read API: GET sessions, chunk metadata, records, blobs and exports for named readers (README
// "Read API"). Each request presents a reader token; each answer, refusals included, is an access
// entry in the store's log before its bytes leave (receiver/access/hooks.ts). Register with
// `await app.register(readApiRoutes, deps)`: its hooks stay inside this plugin.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { RigcapError } from '../../agent/errors.ts';
import type { SessionRecords } from '../../agent/records/exports.ts';
import { decodeRecord } from '../../agent/records/record-decode.ts';
import {
  installAccessHooks,
  noteAccess,
  readerOf,
  type AccessControl,
  type RouteAccess,
} from '../access/hooks.ts';
import { readAccessLog } from '../access/access-log.ts';
import { roleCovers } from '../access/readers.ts';
import type { BlobStore } from '../blob-store.ts';
import { isSafeSegment } from '../record-view.ts';
import type { StateReader } from '../state.ts';
import type { StoreReader } from '../ui/store-reader.ts';
import { sessionExport } from './read-exports.ts';

/** What the read API needs. */
export interface ReadApiDeps {
  control: AccessControl;
  reader: StoreReader;
  blobs: BlobStore;
  /** The state whose log the access log is read from (GET /v1/access). */
  state: StateReader;
  /** How old the store index may be before a request reads new record files (default 500). */
  refreshMs?: number;
}

const read = (role: RouteAccess['role']): RouteAccess => ({ role, action: 'read', purposeRequired: false });
/** Which role each route needs; blobs and exports also need a stated purpose. */
export const readApiRules: Readonly<Record<string, RouteAccess>> = {
  '/v1/sessions': { role: 'reader', action: 'list', purposeRequired: false },
  '/v1/sessions/:sessionId': read('reader'),
  '/v1/sessions/:sessionId/chunks/:index': read('reader'),
  '/v1/records/:signer/:seq': read('reader'),
  '/v1/sessions/:sessionId/chunks/:index/blob': { role: 'auditor', action: 'read', purposeRequired: true },
  '/v1/blobs/sha256/:hex': { role: 'auditor', action: 'read', purposeRequired: true },
  '/v1/sessions/:sessionId/export/:format': { role: 'auditor', action: 'export', purposeRequired: true },
  '/v1/access': { role: 'auditor', action: 'list', purposeRequired: false },
};

const ruleOf = (url: string): RouteAccess => readApiRules[url] ?? read('admin');

/** A time query parameter: RFC 3339 or decimal nanoseconds since the epoch. */
export function parseTimeNs(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (/^(0|[1-9][0-9]{0,19})$/.test(value)) return BigInt(value);
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;
  const ms = rfc3339.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new RigcapError(
      'RIGCAP_RECEIVER_BAD_REQUEST',
      `${name}=${value.slice(0, 64)} is not a time: give RFC 3339 (2026-01-02T03:04:05Z) or nanoseconds`,
    );
  return BigInt(ms) * 1_000_000n;
}

function intParam(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) > max)
    throw new RigcapError('RIGCAP_RECEIVER_BAD_REQUEST', `${name} must be an integer from 0 to ${max}`);
  return Number(value);
}

/** The read API's routes, behind reader tokens. */
export async function readApiRoutes(app: FastifyInstance, deps: ReadApiDeps): Promise<void> {
  const { reader } = deps;
  const refreshMs = deps.refreshMs ?? 500;
  let freshAt = 0;
  const fresh = async (force = false): Promise<void> => {
    if (!force && Date.now() - freshAt < refreshMs) return;
    await reader.refresh();
    freshAt = Date.now();
  };
  installAccessHooks(app, deps.control, ruleOf);
  app.addHook('preHandler', async () => fresh());

  const sessionOf = async (id: string): Promise<SessionRecords> => {
    if (!isSafeSegment(id)) throw new RigcapError('RIGCAP_SESSION_UNKNOWN', 'the store has no such session');
    // A session synced since the last look is found on a second look.
    if (reader.index.get(id) === undefined) await fresh(true);
    const s = await reader.session(id);
    if (s === undefined) throw new RigcapError('RIGCAP_SESSION_UNKNOWN', `the store has no session ${id}`);
    return s;
  };
  registerSessionRoutes(app, { reader, sessionOf });
  registerRecordRoute(app, reader);
  registerBlobRoutes(app, { blobs: deps.blobs, sessionOf, reader });
  app.get<{ Querystring: { session?: string } }>('/v1/access', async (request) => {
    const sessionId = request.query.session;
    if (sessionId !== undefined) await sessionOf(sessionId);
    noteAccess(request, { object: 'access-log', ...(sessionId === undefined ? {} : { sessionId }) });
    return readAccessLog(deps.state, sessionId === undefined ? {} : { sessionId });
  });
  app.get<{ Params: { sessionId: string; format: string } }>(
    '/v1/sessions/:sessionId/export/:format',
    async (request, reply) => {
      const out = sessionExport(await sessionOf(request.params.sessionId), request.params.format);
      return reply
        .header('content-type', out.type)
        .header('content-disposition', `attachment; filename="${out.fileName}"`)
        .send(out.body);
    },
  );
}

type SessionOf = (id: string) => Promise<SessionRecords>;

function chunkRecordOf(s: SessionRecords, index: string) {
  const n = /^[0-9]{1,9}$/.test(index) ? Number(index) : undefined;
  const chunk = s.chunks.find((c) => c.predicate.chunkIndex === n);
  if (chunk === undefined)
    throw new RigcapError('RIGCAP_NOT_FOUND', `session ${s.sessionId} has no chunk ${index.slice(0, 16)}`);
  return chunk;
}

function registerSessionRoutes(
  app: FastifyInstance,
  deps: { reader: StoreReader; sessionOf: SessionOf },
): void {
  const { reader } = deps;
  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/sessions', async (request) => {
    const q = request.query;
    const fromNs = parseTimeNs('from', q['from']);
    const toNs = parseTimeNs('to', q['to']);
    const { total, rows } = reader.index.query({
      ...(q['device'] === undefined ? {} : { device: q['device'] }),
      ...(q['site'] === undefined ? {} : { site: q['site'] }),
      ...(fromNs === undefined ? {} : { fromNs }),
      ...(toNs === undefined ? {} : { toNs }),
      offset: intParam('offset', q['offset'], 0, 1e9),
      limit: intParam('limit', q['limit'], 100, 1000),
    });
    const sessions = rows.map((r) => ({
      sessionId: r.sessionId,
      deviceId: r.deviceId,
      site: r.site,
      startNs: r.startNs.toString(),
      endNs: r.endNs?.toString() ?? null,
      chunks: r.chunks,
      bytes: r.bytes.toString(),
      closed: r.closed,
      score: r.score,
    }));
    noteAccess(request, {
      object: `sessions?${new URLSearchParams(q as Record<string, string>).toString()}`,
    });
    return { total, sessions };
  });
  registerSessionRoute(app, deps);
}

function registerSessionRoute(
  app: FastifyInstance,
  deps: { reader: StoreReader; sessionOf: SessionOf },
): void {
  const { reader, sessionOf } = deps;
  app.get<{ Params: { sessionId: string } }>('/v1/sessions/:sessionId', async (request) => {
    const s = await sessionOf(request.params.sessionId);
    const ref = (r: { chain: { deviceId: string; seq: number }; name: string; payloadSha256: string }) => ({
      signer: r.chain.deviceId,
      seq: r.chain.seq,
      predicate: r.name,
      sha256: r.payloadSha256,
    });
    const records = [s.open, ...s.chunks, ...s.markers, s.close].flatMap((r) =>
      r === undefined ? [] : [ref(r)],
    );
    return {
      sessionId: s.sessionId,
      deviceId: s.deviceId,
      closed: s.close !== undefined,
      chunks: s.chunks.map((c) => ({
        index: c.predicate.chunkIndex,
        name: c.subject[0]?.name ?? null,
        sha256: c.subject[0]?.digest['sha256'] ?? null,
        bytes: c.predicate.bytes,
        startNs: c.predicate.startNs,
        endNs: c.predicate.endNs,
        deleted: reader.deletedByRetention(s.sessionId, c.subject[0]?.name ?? ''),
      })),
      records,
      receipts: s.receipts.map((r) => ({ ...ref(r.record), logIndex: r.record.predicate.log.index })),
    };
  });
  app.get<{ Params: { sessionId: string; index: string } }>(
    '/v1/sessions/:sessionId/chunks/:index',
    async (request) => {
      const s = await sessionOf(request.params.sessionId);
      const chunk = chunkRecordOf(s, request.params.index);
      const name = chunk.subject[0]?.name ?? '';
      const receipts = s.receipts.filter((r) => r.record.predicate.record.seq === chunk.chain.seq);
      return {
        sessionId: s.sessionId,
        name,
        sha256: chunk.subject[0]?.digest['sha256'] ?? null,
        record: { signer: chunk.chain.deviceId, seq: chunk.chain.seq, sha256: chunk.payloadSha256 },
        predicate: chunk.predicate,
        file: await reader.chunkFile(s.sessionId, name),
        deleted: reader.deletedByRetention(s.sessionId, name),
        receipts: receipts.map((r) => ({
          storeId: r.storeId,
          seq: r.record.chain.seq,
          log: r.record.predicate.log,
        })),
      };
    },
  );
}

function registerRecordRoute(app: FastifyInstance, reader: StoreReader): void {
  app.get<{ Params: { signer: string; seq: string } }>('/v1/records/:signer/:seq', async (request, reply) => {
    const { signer, seq } = request.params;
    const n = /^[1-9][0-9]{0,11}$/.test(seq) ? Number(seq) : undefined;
    const bytes = n === undefined || !isSafeSegment(signer) ? undefined : await reader.recordFile(signer, n);
    const decoded = bytes === undefined ? undefined : decodeRecord(bytes);
    if (bytes === undefined || decoded === undefined || !decoded.ok)
      throw new RigcapError(
        'RIGCAP_NOT_FOUND',
        `the store has no record ${signer.slice(0, 128)} ${seq.slice(0, 16)}`,
      );
    const session = 'sessionId' in decoded.record.predicate ? decoded.record.predicate.sessionId : null;
    noteAccess(request, session === null ? {} : { sessionId: session });
    // Who read what is for auditors: readers may not read the access records themselves.
    const who = readerOf(request);
    if (decoded.record.name === 'access' && (who === undefined || !roleCovers(who.role, 'auditor')))
      throw new RigcapError('RIGCAP_ACCESS_DENIED', 'access records need the auditor role');
    return reply.header('content-type', 'application/json').send(Buffer.from(bytes));
  });
}

function registerBlobRoutes(
  app: FastifyInstance,
  deps: { blobs: BlobStore; sessionOf: SessionOf; reader: StoreReader },
): void {
  const send = async (request: FastifyRequest, sha256: string, object: string) => {
    const blob = await deps.blobs.open?.(sha256);
    if (blob === undefined)
      throw new RigcapError(
        'RIGCAP_NOT_FOUND',
        `the store serves no blob ${sha256} (absent, deleted or kept elsewhere)`,
      );
    noteAccess(request, { sha256, object });
    return blob;
  };
  app.get<{ Params: { sessionId: string; index: string } }>(
    '/v1/sessions/:sessionId/chunks/:index/blob',
    async (request, reply) => {
      const s = await deps.sessionOf(request.params.sessionId);
      const chunk = chunkRecordOf(s, request.params.index);
      const name = chunk.subject[0]?.name ?? '';
      const sha256 = chunk.subject[0]?.digest['sha256'] ?? '';
      if (deps.reader.deletedByRetention(s.sessionId, name))
        throw new RigcapError('RIGCAP_NOT_FOUND', `${name} was deleted by a signed retention action`);
      const blob = await send(request, sha256, `${s.sessionId}/${name}`);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(blob.bytes))
        .send(blob.stream);
    },
  );
  app.get<{ Params: { hex: string } }>(
    '/v1/blobs/sha256/:hex',
    { exposeHeadRoute: false },
    async (request, reply) => {
      const { hex } = request.params;
      if (!/^[0-9a-f]{64}$/.test(hex))
        throw new RigcapError('RIGCAP_RECEIVER_BAD_REQUEST', 'a blob is named by its lowercase hex SHA-256');
      const blob = await send(request, hex, `blob-${hex}`);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(blob.bytes))
        .send(blob.stream);
    },
  );
}
