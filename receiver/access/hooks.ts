// Access control for a fastify scope (the read API, the dashboard): every request presents a named
// reader's token, the route's rule says which role and whether a purpose is needed, and every
// answer (read, refusal, not found, invalid) is appended as an access entry before its bytes leave:
// a read whose entry cannot be logged is answered 503 instead.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RigcapError, isRigcapError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import type { AccessEntry } from '../../agent/records/predicates.ts';
import { presentedToken } from '../ui/reader-auth.ts';
import { roleCovers, type Reader, type ReaderBook, type ReaderRole } from './readers.ts';
import type { AccessRecorder } from './recorder.ts';

/** What one route needs of its reader. */
export interface RouteAccess {
  role: ReaderRole;
  action: AccessEntry['action'];
  /** A purpose must be stated (X-Rigcap-Purpose or ?purpose=); else `defaultPurpose` (or none). */
  purposeRequired: boolean;
  defaultPurpose?: string;
}

/** The readers and the recorder a scope checks and logs with. */
export interface AccessControl {
  readers: ReaderBook;
  recorder: AccessRecorder;
  log: Logger;
}

/** What a handler says it disclosed (defaults are derived from the route and its params). */
export interface AccessNote {
  object?: string;
  sessionId?: string;
  /** SHA-256 of the bytes sent when the handler streams them (else the payload is hashed). */
  sha256?: string;
}

interface AccessContext extends AccessNote {
  reader?: Reader;
  purpose?: string;
  code?: string;
}

const contexts = new WeakMap<FastifyRequest, AccessContext>();

/** Records what a handler disclosed, for its access entry. */
export function noteAccess(request: FastifyRequest, note: AccessNote): void {
  const ctx = contexts.get(request);
  if (ctx !== undefined) Object.assign(ctx, note);
}

/** The reader a request authenticated as (inside an access-controlled scope). */
export function readerOf(request: FastifyRequest): Reader | undefined {
  return contexts.get(request)?.reader;
}

/** A request-chosen string as logged: printable ASCII only (one byte each), at most 256. */
function clip(s: string): string {
  const ascii = s.replace(/[^\x20-\x7e]|["\\]/g, '?');
  return ascii.length <= 256 ? ascii : `${ascii.slice(0, 253)}...`;
}

function purposeOf(request: FastifyRequest): string | undefined {
  const header = request.headers['x-rigcap-purpose'];
  const query = (request.query as Record<string, unknown> | undefined)?.['purpose'];
  const value = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
  if (value === undefined) return undefined;
  if (!/^[^\p{Cc}]{1,200}$/u.test(value))
    throw new RigcapError(
      'RIGCAP_ACCESS_PURPOSE_REQUIRED',
      'the purpose must be 1 to 200 printable characters',
    );
  return value;
}

/** The object a route names when its handler did not say (from its params). */
function objectOf(params: Record<string, string>): string {
  const { sessionId, index, format, deviceId, hex, signer, seq } = params;
  if (hex !== undefined) return `blob-${hex}`;
  if (signer !== undefined) return `record-${signer}-${seq ?? ''}`;
  if (sessionId === undefined) return deviceId === undefined ? 'fleet' : `device-${deviceId}`;
  if (format !== undefined) return `export-${sessionId}-${format}`;
  return index === undefined ? `session-${sessionId}` : `session-${sessionId}/chunk-${index}`;
}

function outcomeOf(status: number): AccessEntry['outcome'] {
  if (status < 400) return 'read';
  if (status === 401 || status === 403) return 'refused';
  if (status === 404) return 'not-found';
  return status < 500 ? 'invalid' : 'failed';
}

function entryOf(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  rule: RouteAccess,
): AccessEntry {
  const ctx = contexts.get(request) ?? {};
  const params = (request.params ?? {}) as Record<string, string>;
  const status = reply.statusCode;
  const bytes = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : undefined;
  const sha256 =
    status >= 400
      ? null
      : (ctx.sha256 ?? (bytes === undefined ? null : createHash('sha256').update(bytes).digest('hex')));
  const sessionId = ctx.sessionId ?? params['sessionId'];
  return {
    reader: ctx.reader?.name ?? null,
    role: ctx.reader?.role ?? null,
    action: rule.action,
    route: clip(request.routeOptions.url ?? request.url.split('?')[0]!),
    object: clip(ctx.object ?? objectOf(params)),
    sha256,
    sessionId: sessionId === undefined ? null : clip(sessionId),
    purpose: ctx.purpose ?? null,
    atNs: (BigInt(Date.now()) * 1_000_000n).toString(),
    status,
    outcome: outcomeOf(status),
    code: status < 400 ? null : (ctx.code ?? null),
  };
}

/** Checks the reader on every request of `scope` and logs every answer as an access entry. */
export function installAccessHooks(
  scope: FastifyInstance,
  control: AccessControl,
  ruleOf: (routeUrl: string) => RouteAccess,
): void {
  const rule = (request: FastifyRequest): RouteAccess => ruleOf(request.routeOptions.url ?? '');
  scope.addHook('onRequest', async (request, reply) => {
    const ctx: AccessContext = {};
    contexts.set(request, ctx);
    const token = presentedToken(request.headers.authorization);
    const reader = token === undefined ? undefined : control.readers.identify(token);
    if (reader === undefined) {
      void reply.header('www-authenticate', 'Basic realm="rigcap", charset="UTF-8"');
      throw new RigcapError(
        'RIGCAP_ACCESS_UNAUTHENTICATED',
        token === undefined ? 'no reader token presented' : 'the reader token is not in the readers file',
      );
    }
    ctx.reader = reader;
    const needs = rule(request);
    if (!roleCovers(reader.role, needs.role))
      throw new RigcapError(
        'RIGCAP_ACCESS_DENIED',
        `reader ${reader.name} (${reader.role}) may not ${needs.action} this: it needs ${needs.role}`,
      );
    const purpose = purposeOf(request) ?? needs.defaultPurpose;
    if (purpose === undefined && needs.purposeRequired)
      throw new RigcapError(
        'RIGCAP_ACCESS_PURPOSE_REQUIRED',
        'say why: an X-Rigcap-Purpose header or ?purpose=',
      );
    if (purpose !== undefined) ctx.purpose = purpose;
  });
  scope.addHook('onError', async (request, _reply, err) => {
    const ctx = contexts.get(request);
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (ctx !== undefined)
      ctx.code = isRigcapError(err)
        ? err.code
        : status < 500
          ? 'RIGCAP_RECEIVER_BAD_REQUEST'
          : 'RIGCAP_INTERNAL';
  });
  scope.addHook('onSend', async (request, reply, payload) => {
    const entry = entryOf(request, reply, payload, rule(request));
    try {
      await control.recorder.record(entry);
    } catch (err) {
      // Nothing is disclosed without its entry; a refusal that could not be logged is still refused.
      if (entry.outcome === 'read') {
        // A blob's file stream that will never be sent is closed here.
        if (payload instanceof Readable) payload.destroy();
        throw new RigcapError('RIGCAP_ACCESS_LOG_UNAVAILABLE', 'the access entry could not be logged', {
          cause: err,
        });
      }
      control.log.error({ err, route: entry.route }, 'access entry of a refusal not logged');
    }
    return payload;
  });
}
