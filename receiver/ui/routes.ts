// The fleet dashboard as a fastify plugin: read-only, server-rendered HTML under /ui/ (fleet →
// device → session → chunk, plus a session's exports). Register it with
// `await app.register(uiRoutes, deps)`; `deps.authorize` may refuse a request by throwing a
// RigcapError (reader credentials plug in there).
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { RigcapError, isRigcapError, type ErrorCode } from '../../agent/errors.ts';
import {
  croissantRai,
  datasetCard,
  intotoBundle,
  provDocument,
  sessionFacts,
} from '../../agent/records/exports.ts';
import { readinessProfileProblems, type ReadinessProfile } from '../../agent/records/readiness.ts';
import { devicePage, errorPage, fleetPage, type FilterParams } from './fleet-pages.ts';
import { chunkPage } from './chunk-page.ts';
import { sessionPage } from './session-page.ts';
import { verifySession } from './session-verify.ts';
import type { RecordSource } from './record-sources.ts';
import { StoreReader } from './store-reader.ts';

export interface UiDeps {
  reader: StoreReader;
  /** Throws a RigcapError to refuse the request (401/403); default: every request may read. */
  authorize?: (request: FastifyRequest) => void | Promise<void>;
  /** How old the index may be before a request reads the store's new record files (default 2000). */
  refreshMs?: number;
}

const profilesUrl = new URL('../../config/readiness/profiles.yaml', import.meta.url);

/**
 * A StoreReader over an embedded store root (or a record source: a fleet store's state), scoring
 * with a profile of config/readiness/profiles.yaml.
 */
export async function storeUiDeps(options: {
  root?: string;
  source?: RecordSource;
  profile?: string;
  sites?: ReadonlyMap<string, string>;
}): Promise<UiDeps> {
  const name = options.profile ?? 'training';
  const all = parseYaml(await readFile(profilesUrl, 'utf8')) as Record<string, unknown>;
  const problems = readinessProfileProblems(name, all[name]);
  if (problems.length > 0) throw new RigcapError('RIGCAP_CONFIG_INVALID', problems.join('; '));
  const reader = new StoreReader({
    ...(options.root === undefined ? {} : { root: options.root }),
    ...(options.source === undefined ? {} : { source: options.source }),
    profile: all[name] as ReadinessProfile,
    ...(options.sites === undefined ? {} : { sites: options.sites }),
  });
  await reader.refresh();
  return { reader };
}

const statusOf: Partial<Record<ErrorCode, number>> = {
  RIGCAP_USAGE: 400,
  RIGCAP_SESSION_UNKNOWN: 404,
  RIGCAP_NOT_FOUND: 404,
  RIGCAP_RECEIVER_UNAUTHENTICATED: 401,
  RIGCAP_ACCESS_UNAUTHENTICATED: 401,
  RIGCAP_ACCESS_PURPOSE_REQUIRED: 400,
  RIGCAP_ACCESS_LOG_UNAVAILABLE: 503,
};

const headers = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // No script, no external asset: styles are inline, images only from the page itself.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
};

/** The dashboard's routes. */
export async function uiRoutes(app: FastifyInstance, deps: UiDeps): Promise<void> {
  const refreshMs = deps.refreshMs ?? 2000;
  let freshAt = 0;
  app.addHook('onRequest', async (request) => {
    if (deps.authorize !== undefined) await deps.authorize(request);
    if (Date.now() - freshAt >= refreshMs) {
      await deps.reader.refresh();
      freshAt = Date.now();
    }
  });
  app.setErrorHandler(async (err, _request, reply) => {
    const rig = isRigcapError(err) ? err : undefined;
    const status = rig === undefined ? 500 : (statusOf[rig.code] ?? 403);
    if (rig === undefined) app.log.error({ err }, 'dashboard page failed');
    if (status === 401)
      void reply.header('www-authenticate', 'Basic realm="rigcap dashboard", charset="UTF-8"');
    return reply
      .code(status)
      .headers(headers)
      .send(errorPage(status, rig?.code ?? 'RIGCAP_INTERNAL', rig?.message ?? 'the page could not be built'));
  });
  registerPages(app, deps.reader);
  registerExports(app, deps.reader);
}

async function sessionOf(reader: StoreReader, id: string) {
  const row = reader.index.get(id);
  const s = row === undefined ? undefined : await reader.session(id);
  if (row === undefined || s === undefined)
    throw new RigcapError('RIGCAP_SESSION_UNKNOWN', `the store has no session ${id}`);
  return { row, s };
}

const send = (reply: FastifyReply, body: string): FastifyReply => reply.headers(headers).send(body);

function registerPages(app: FastifyInstance, reader: StoreReader): void {
  app.get('/ui', async (_request, reply) => reply.redirect('/ui/'));
  app.get<{ Querystring: FilterParams }>('/ui/', async (request, reply) =>
    send(reply, fleetPage(reader.index, request.query)),
  );
  app.get<{ Params: { deviceId: string }; Querystring: FilterParams }>(
    '/ui/devices/:deviceId',
    async (request, reply) => {
      const { deviceId } = request.params;
      const body = devicePage(reader.index, deviceId, reader.keysOf(deviceId), request.query);
      if (body === undefined)
        throw new RigcapError('RIGCAP_NOT_FOUND', `the store has no device ${deviceId}`);
      return send(reply, body);
    },
  );
  app.get<{ Params: { sessionId: string } }>('/ui/sessions/:sessionId', async (request, reply) => {
    const { row, s } = await sessionOf(reader, request.params.sessionId);
    return send(reply, sessionPage(row, s, reader.readiness(s), await verifySession(reader, s)));
  });
  app.get<{ Params: { sessionId: string; index: string } }>(
    '/ui/sessions/:sessionId/chunks/:index',
    async (request, reply) => {
      const { s } = await sessionOf(reader, request.params.sessionId);
      const index = /^[0-9]{1,9}$/.test(request.params.index) ? Number(request.params.index) : undefined;
      const body = index === undefined ? undefined : chunkPage(s, index, await verifySession(reader, s));
      if (body === undefined)
        throw new RigcapError(
          'RIGCAP_NOT_FOUND',
          `session ${s.sessionId} has no chunk ${request.params.index}`,
        );
      return send(reply, body);
    },
  );
}

function registerExports(app: FastifyInstance, reader: StoreReader): void {
  app.get<{ Params: { sessionId: string; format: string } }>(
    '/ui/sessions/:sessionId/export/:format',
    async (request, reply) => {
      const { s } = await sessionOf(reader, request.params.sessionId);
      const base = s.sessionId;
      const file = (name: string, type: string, body: string): FastifyReply =>
        reply
          .header('content-type', type)
          .header('content-disposition', `attachment; filename="${name}"`)
          .header('x-content-type-options', 'nosniff')
          .send(body);
      switch (request.params.format) {
        case 'intoto':
          return file(`${base}.intoto.jsonl`, 'application/jsonl; charset=utf-8', intotoBundle(s));
        case 'prov':
          return file(`${base}.prov.json`, 'application/json', JSON.stringify(provDocument(s), null, 2));
        case 'card':
          return file(
            `${base}.card.md`,
            'text/markdown; charset=utf-8',
            datasetCard(sessionFacts(s), { croissantFile: `${base}.croissant.json` }),
          );
        case 'croissant':
          return file(
            `${base}.croissant.json`,
            'application/ld+json',
            JSON.stringify(croissantRai(sessionFacts(s)), null, 2),
          );
        default:
          throw new RigcapError(
            'RIGCAP_USAGE',
            `unknown export format ${request.params.format} (intoto, prov, card, croissant)`,
          );
      }
    },
  );
}
