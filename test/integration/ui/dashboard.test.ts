// The fleet dashboard over a real store (a sim-rig capture synced through the receiver, and a
// second device's signed records): what each page shows agrees with the CLI, values are escaped,
// bad input answers 4xx with a code, a refusing authorize hook is honoured, and a 10,000-session
// index answers from the index alone (page times printed, not asserted).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RigcapError } from '../../../agent/errors.ts';
import { uiRoutes, storeUiDeps, type UiDeps } from '../../../receiver/ui/routes.ts';
import type { SessionRow } from '../../../receiver/ui/session-index.ts';
import { runCli } from '../../support/cli.ts';
import { buildSimStore, fixtureSessionId, markerLabel, type SimStore } from './sim-store.ts';

let sim: SimStore;
let deps: UiDeps;
let app: FastifyInstance;

beforeAll(async () => {
  sim = await buildSimStore();
  deps = { ...(await storeUiDeps({ root: sim.store })), refreshMs: 0 };
  app = Fastify();
  await app.register(uiRoutes, deps);
  await app.ready();
}, 240_000);

afterAll(async () => {
  await app?.close();
  await sim?.remove();
});

async function get(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const r = await app.inject({ method: 'GET', url });
  return { status: r.statusCode, body: r.body, headers: r.headers };
}

describe('fleet dashboard', () => {
  it('the fleet page lists both devices and their sessions, and filters by device, site, score and time', async () => {
    const fleet = await get('/ui/');
    expect(fleet.status).toBe(200);
    expect(fleet.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(fleet.body).toContain('data-device="agent-test-rig"');
    expect(fleet.body).toContain('data-device="rig-fixture"');
    expect(fleet.body).toMatch(/2 sessions match/);
    const byDevice = await get('/ui/?device=rig-fixture');
    expect(byDevice.body).toMatch(/1 session match/);
    expect(byDevice.body).toContain(`data-session="${fixtureSessionId}"`);
    expect(byDevice.body).not.toContain(`data-session="${sim.sessionId}"`);
    // The sim rig's policy names residency "test", the fixture's "EU": sites default to residency.
    expect((await get('/ui/?site=EU')).body).toMatch(/1 session match/);
    // The fixture session dropped frames with its clock unsynced: it scores below 90.
    expect((await get('/ui/?maxScore=89')).body).toContain(`data-session="${fixtureSessionId}"`);
    expect((await get('/ui/?from=2001-01-01&to=2001-12-31')).body).toMatch(/0 sessions match/);
    expect((await get('/ui/?from=2025-12-03&to=2025-12-03')).body).toContain(
      `data-session="${fixtureSessionId}"`,
    );
  });

  it('the session page shows the same score as rigcap readiness, the marker escaped, streams, receipts, verify and exports', async () => {
    const page = await get(`/ui/sessions/${sim.sessionId}`);
    expect(page.status).toBe(200);
    const cli = JSON.parse(
      (await runCli(['readiness', sim.store, '--session', sim.sessionId, '--json'])).stdout,
    ) as { sessions: Array<{ score: number; factors: Array<{ name: string; reason: string }> }> };
    const score = cli.sessions[0]!.score;
    expect(page.body).toMatch(new RegExp(`<span id="score"><span class="score [a-z-]+">${score}</span>`));
    for (const f of cli.sessions[0]!.factors) expect(page.body).toContain(`data-factor="${f.name}"`);
    // Escaped everywhere: the label's markup never reaches the page as markup.
    expect(page.body).not.toContain('<b>&</b>');
    expect(page.body).toContain('pedestrian &lt;b&gt;&amp;&lt;/b&gt; &quot;cone&quot;');
    expect(markerLabel).toContain('<b>');
    expect(page.body).toContain('data-lane="markers"');
    expect(page.body).toContain('data-lane="clock"');
    expect(page.body).toContain('data-topic="/lidar/points"');
    expect(page.body).toMatch(/<p id="verify-result" class="ok">\s*verified/);
    // Receipts and log indexes: the same as trace reads from the store.
    const indexes = [...page.body.matchAll(/class="num log-index">(\d+)</g)].map((m) => Number(m[1]));
    expect(indexes.length).toBeGreaterThan(0);
    // The in-toto export is the one `rigcap export` writes.
    const bundle = await get(`/ui/sessions/${sim.sessionId}/export/intoto`);
    expect(bundle.status).toBe(200);
    const out = join(sim.dir, 'cli.intoto.jsonl');
    expect(
      (await runCli(['export', sim.sessionId, '--format', 'intoto', '--out', out, '--spool', sim.store]))
        .code,
    ).toBe(0);
    expect(bundle.body).toBe(await readFile(out, 'utf8'));
    for (const f of ['prov', 'card', 'croissant'])
      expect((await get(`/ui/sessions/${sim.sessionId}/export/${f}`)).status).toBe(200);
    expect((await get(`/ui/sessions/${sim.sessionId}/export/zip`)).status).toBe(400);
  });

  it('the chunk page names the digest, the hash check and the receipt; a tampered chunk shows a verify failure', async () => {
    const chunk = await get(`/ui/sessions/${sim.sessionId}/chunks/1`);
    expect(chunk.status).toBe(200);
    expect(chunk.body).toMatch(/id="chunk-file" class="ok">hash verified/);
    const sha = /id="chunk-sha256">([0-9a-f]{64})</.exec(chunk.body)![1]!;
    const trace = JSON.parse((await runCli(['trace', sim.store, '--chunk', sha, '--json'])).stdout) as {
      receipts: Array<{ log: { index: number } }>;
    };
    expect(chunk.body).toContain(`<span class="log-index">${trace.receipts[0]!.log.index}</span>`);

    const fixturePage = await get(`/ui/sessions/${fixtureSessionId}`);
    // The fixture's chunk files are not in the store: verification says so rather than passing.
    expect(fixturePage.body).toContain('VERIFY_CHUNK_MISSING');
    expect(fixturePage.body).toMatch(/samples dropped on \/camera\/front\/image\/compressed/);

    const path = join(sim.store, 'sessions', sim.sessionId, 'chunk-000001.mcap');
    const original = await readFile(path);
    const bytes = Buffer.from(original);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(path, bytes);
    try {
      const tampered = await get(`/ui/sessions/${sim.sessionId}`);
      expect(tampered.body).toMatch(/<p id="verify-result" class="fail">/);
      expect(tampered.body).toContain('VERIFY_DIGEST_MISMATCH');
      expect((await get(`/ui/sessions/${sim.sessionId}/chunks/1`)).body).toMatch(
        /id="chunk-file" class="fail">VERIFY_DIGEST_MISMATCH/,
      );
    } finally {
      await writeFile(path, original);
    }
  });

  it('unknown sessions, devices and chunks are 404 and bad filters 400, each naming its code', async () => {
    const unknown = await get('/ui/sessions/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('<code id="error-code">RIGCAP_SESSION_UNKNOWN</code>');
    expect((await get('/ui/devices/nope')).status).toBe(404);
    expect((await get(`/ui/sessions/${sim.sessionId}/chunks/999`)).status).toBe(404);
    expect((await get(`/ui/sessions/${sim.sessionId}/chunks/..%2F..`)).status).toBe(404);
    for (const q of ['from=yesterday', 'minScore=101', 'maxScore=-1', 'page=0', 'page=x']) {
      const r = await get(`/ui/?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body).toContain('RIGCAP_USAGE');
    }
    const xss = await get('/ui/sessions/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(xss.status).toBe(404);
    expect(xss.body).not.toContain('<script>');
  });

  it('an authorize hook that refuses is answered 401 with its code, before any page is built', async () => {
    const guarded = Fastify();
    await guarded.register(uiRoutes, {
      ...deps,
      authorize: (request) => {
        if (request.headers['x-reader'] !== 'alice')
          throw new RigcapError('RIGCAP_RECEIVER_UNAUTHENTICATED', 'a reader credential is required');
      },
    });
    const refused = await guarded.inject({ method: 'GET', url: `/ui/sessions/${sim.sessionId}` });
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain('RIGCAP_RECEIVER_UNAUTHENTICATED');
    expect(refused.body).not.toContain(sim.sessionId);
    const allowed = await guarded.inject({ method: 'GET', url: '/ui/', headers: { 'x-reader': 'alice' } });
    expect(allowed.statusCode).toBe(200);
    await guarded.close();
  });

  it('with 10,000 sessions in the index, list pages answer from the index alone (times printed)', async () => {
    const devices = 40;
    const t0 = 1_767_225_600_000_000_000n; // 2026-01-01
    const rows: SessionRow[] = [];
    for (let i = 0; i < 10_000; i++)
      rows.push({
        sessionId: `S-seeded-${String(i).padStart(5, '0')}`,
        deviceId: `rig-${String(i % devices).padStart(2, '0')}`,
        site: ['depot-north', 'depot-south', 'test-track'][i % 3]!,
        startNs: t0 + BigInt(i) * 3_600_000_000_000n,
        endNs: t0 + BigInt(i) * 3_600_000_000_000n + 1_800_000_000_000n,
        chunks: 30,
        bytes: 1_500_000_000n,
        closed: true,
        score: (i * 37) % 101,
        seqs: [],
      });
    // Seeded rows have no files at all: a page that read session files could not show them.
    deps.reader.seed(rows);
    const timed = async (url: string): Promise<{ ms: number; body: string; status: number }> => {
      const start = process.hrtime.bigint();
      const r = await get(url);
      return { ...r, ms: Number(process.hrtime.bigint() - start) / 1e6 };
    };
    const figures: string[] = [];
    const check = async (url: string, expectText: RegExp): Promise<void> => {
      await timed(url); // first request builds the sorted list once
      const r = await timed(url);
      expect(r.status, url).toBe(200);
      expect(r.body, url).toMatch(expectText);
      figures.push(`${url} ${r.ms.toFixed(1)} ms`);
    };
    await check('/ui/', /10002 sessions match · page 1 of 201/);
    await check('/ui/?page=150', /page 150 of 201/);
    await check('/ui/?device=rig-07&minScore=50', /\d+ sessions match/);
    await check('/ui/?site=test-track&from=2026-03-01&to=2026-03-31', /\d+ sessions match/);
    await check('/ui/devices/rig-07', /250 sessions match/);
    await check(`/ui/sessions/${sim.sessionId}`, /id="verify-result" class="ok"/);
    await check(`/ui/sessions/${sim.sessionId}/chunks/1`, /hash verified/);
    console.log(
      `dashboard page times with ${deps.reader.index.size} sessions indexed (loaded machine):\n  ${figures.join('\n  ')}`,
    );
  });
});
