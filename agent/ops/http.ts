// The agent's local ops endpoint (loopback by default): the status page, /status.json, Prometheus
// /metrics, and POST /marks for event markers. node:http keeps it tiny and dependency-free.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RigcapError, errnoCode, isRigcapError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { markToJson, type MarkerInbox } from './markers.ts';
import type { AgentMetrics } from './metrics.ts';
import type { SnapshotSource } from './snapshot.ts';
import { statusPageHtml } from './status-page.ts';

const maxBodyBytes = 16 * 1024;

export interface OpsHttpServerOptions {
  /** `host:port` (`ops.listen`); port 0 picks a free one. */
  listen: string;
  log: Logger;
  snapshot: SnapshotSource;
  metrics: AgentMetrics;
  markers: MarkerInbox;
}

/** Splits `host:port` (IPv6 in brackets) into its parts. */
export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (match === null || port > 65535)
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `ops.listen '${listen}' is not host:port`);
  return { host: match[1] ?? match[2] ?? '127.0.0.1', port };
}

/** Serves the status page, status JSON, metrics and markers. `close()` is idempotent. */
export class OpsHttpServer {
  readonly #options: OpsHttpServerOptions;
  readonly #log: Logger;
  readonly #page = statusPageHtml();
  #server: Server | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: OpsHttpServerOptions) {
    this.#options = options;
    this.#log = options.log;
  }

  /** Starts listening; resolves with the bound address. Throws RIGCAP_OPS_LISTEN_FAILED. */
  async start(): Promise<{ host: string; port: number; url: string }> {
    const { host, port } = parseListen(this.#options.listen);
    const server = createServer((req, res) => void this.#handle(req, res));
    // The endpoint is for scrapers and one operator: keep idle sockets from piling up.
    server.keepAliveTimeout = 5_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new RigcapError(
            'RIGCAP_OPS_LISTEN_FAILED',
            `cannot listen on ${host}:${port} (${errnoCode(err) ?? String(err)})`,
            { cause: err },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
    this.#log.info({ url }, 'ops endpoint listening');
    return { host: address.address, port: address.port, url };
  }

  /** Stops accepting and closes open connections. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const server = this.#server;
    this.#closing =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    try {
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        return send(res, 200, 'text/html; charset=utf-8', this.#page);
      }
      if (req.method === 'GET' && path === '/status.json') {
        return send(res, 200, 'application/json', JSON.stringify(this.#options.snapshot()));
      }
      if (req.method === 'GET' && path === '/metrics') {
        return send(res, 200, this.#options.metrics.contentType, await this.#options.metrics.render());
      }
      if (path === '/marks') {
        if (req.method !== 'POST') return sendError(res, 405, 'RIGCAP_USAGE', 'POST a JSON mark to /marks');
        return await this.#postMark(req, res);
      }
      return sendError(res, 404, 'RIGCAP_NOT_FOUND', `no route ${req.method ?? ''} ${path}`);
    } catch (err) {
      if (isRigcapError(err, 'RIGCAP_MARK_INVALID')) return sendError(res, 400, err.code, err.message);
      this.#log.error({ err, path }, 'ops endpoint request failed');
      return sendError(res, 500, 'RIGCAP_INTERNAL', 'internal error');
    }
  }

  async #postMark(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A JSON content type cannot be sent cross-site without a CORS preflight, which we never grant:
    // a web page the operator happens to have open cannot inject marks.
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendError(res, 415, 'RIGCAP_MARK_INVALID', 'send the mark as application/json');
    }
    const body = await readBody(req);
    if (body === undefined)
      return sendError(res, 413, 'RIGCAP_MARK_INVALID', `the mark is larger than ${maxBodyBytes} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      return sendError(res, 400, 'RIGCAP_MARK_INVALID', 'the body is not JSON');
    }
    const mark = await this.#options.markers.submit(parsed, 'http');
    return send(res, 201, 'application/json', JSON.stringify({ ok: true, mark: markToJson(mark) }));
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, {
    'content-type': contentType,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, 'application/json', JSON.stringify({ ok: false, error: { code, message } }));
}

/** The body as text, or undefined when it exceeds the limit. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > maxBodyBytes) return undefined;
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}
