// How a reader presents a token to the dashboard and the read API: as HTTP Basic (any user name, the
// token as password, so a browser asks once) or as a Bearer token. Who the token names is
// receiver/access/readers.ts's to say (by its SHA-256, compared in constant time).
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
