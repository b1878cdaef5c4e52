// Reader credentials for the dashboard: tokens from files (never argv), presented as HTTP Basic
// (any user name, the token as password, so a browser asks once) or as a Bearer token. Each token
// is kept only as its SHA-256 and compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { RigcapError } from '../../agent/errors.ts';

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** The token an Authorization header presents (Bearer, or the HTTP Basic password), if any. */
export function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer !== null) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (basic === null) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** An `authorize` hook for uiRoutes that lets through only requests presenting one of `tokens`. */
export function readerAuthorizer(tokens: readonly string[]): (request: FastifyRequest) => void {
  if (tokens.length === 0)
    throw new RigcapError('RIGCAP_STORE_TOKEN_INVALID', 'the dashboard needs at least one reader token');
  const known = tokens.map(digest);
  return (request) => {
    const token = presentedToken(request.headers.authorization);
    const seen = token === undefined ? undefined : digest(token);
    if (seen === undefined || !known.some((k) => timingSafeEqual(k, seen)))
      throw new RigcapError(
        'RIGCAP_RECEIVER_UNAUTHENTICATED',
        'the dashboard needs a reader token (HTTP Basic password or Bearer)',
      );
  };
}
