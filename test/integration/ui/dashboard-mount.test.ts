// The receiver serves the dashboard only when given reader tokens, and only to requests that
// present one (HTTP Basic password or Bearer); a browser is asked for it with WWW-Authenticate.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { startReceiver, type ReceiverHandle } from '../../../receiver/server.ts';

const token = 'reader-token-0123456789abcdef0123456789';
let dir: string;
let guarded: ReceiverHandle;
let plain: ReceiverHandle;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rigcap-ui-mount-'));
  const common = { host: '127.0.0.1', port: 0, enrollTokens: [], log: silentLogger() };
  guarded = await startReceiver({ ...common, dataDir: join(dir, 'a'), uiReaderTokens: [token] });
  plain = await startReceiver({ ...common, dataDir: join(dir, 'b') });
});

afterAll(async () => {
  await guarded?.close();
  await plain?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the dashboard on the receiver', () => {
  it('answers a reader presenting a token, as Basic password or Bearer', async () => {
    const basic = `Basic ${Buffer.from(`auditor:${token}`).toString('base64')}`;
    for (const authorization of [basic, `Bearer ${token}`]) {
      const res = await fetch(`${guarded.url}/ui/`, { headers: { authorization } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    }
  });

  it('refuses a request without a token or with another one, asking for Basic credentials', async () => {
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
      const res = await fetch(`${guarded.url}/ui/`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await res.text()).toContain('RIGCAP_ACCESS_UNAUTHENTICATED');
    }
  });

  it('is not served at all without reader tokens', async () => {
    expect((await fetch(`${plain.url}/ui/`)).status).toBe(404);
  });
});
