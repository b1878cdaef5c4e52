// 30 s of fuzzed requests against every route a fleet receiver (`rigcap receiver --db … --blobs …`
// with signed requests on) lists in its OpenAPI document, over fetch (some signed by an enrolled
// device) and on raw sockets. Afterwards the process is alive and answers GET /v1/store, and its
// peak RSS stayed under the bound. RIGCAP_FUZZ_SEED repeats a run; RIGCAP_FUZZ_MS changes its length.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { postgresSkipReason } from '../../support/engines/postgres.ts';
import { rgwSkipReason } from '../../support/engines/rgw.ts';
import { rawArb, requestArb, routesOf, sendFuzz, sendRaw } from '../../support/fleet-fuzz.ts';
import { pool } from '../../support/fleet-devices.ts';
import { send } from '../../support/fleet-requests.ts';
import { fleetArgs, fleetSuite, startReceivers } from '../../support/fleet-rig.ts';
import { FakeDevice } from '../../integration/sync/fake-device.ts';

const skip = postgresSkipReason ?? rgwSkipReason;
const fuzzMs = Number(process.env['RIGCAP_FUZZ_MS'] ?? 30_000);
const seed = Number(process.env['RIGCAP_FUZZ_SEED'] ?? Date.now() % 2 ** 31);
/** Peak RSS a receiver may reach under the fuzz (measured: see README "Fleet store"). */
const rssBoundMb = 400;

describe.skipIf(skip !== undefined)('30 s of fuzzed requests against every route of a fleet receiver', () => {
  const fleet = fleetSuite('rigcap-fuzz-');

  it(`no crash, RSS under ${rssBoundMb} MiB (seed ${seed})`, async () => {
    const token = randomBytes(32).toString('base64url');
    fleet.receivers = await startReceivers(1, {
      dir: fleet.root,
      args: fleetArgs({
        dir: fleet.root,
        dbUrl: await fleet.pg.createDatabase(),
        blobs: `s3://${fleet.rgw.bucket}/fuzz`,
        endpoint: fleet.rgw.endpoint,
        tokens: [token],
        extra: ['--max-part-bytes', String(1024 * 1024)],
      }),
      env: fleet.rgw.awsEnv,
    });
    const r = fleet.receivers[0]!;
    const dev = new FakeDevice({ deviceId: 'rig-fuzz', spoolDir: join(fleet.root, 'spool') });
    expect(
      await send(`${r.url}/v1/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'rigcap-enroll-token': token },
        body: dev.enrol(),
      }),
    ).toEqual([201, '']);
    const routes = routesOf((await (await fetch(`${r.url}/openapi.json`)).json()) as never);
    expect(routes.map((x) => `${x.method} ${x.path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/uploads',
        'PATCH /v1/uploads/{id}',
        'POST /v1/records',
        'GET /v1/store',
      ]),
    );

    const statuses = new Map<number, number>();
    const deadline = Date.now() + fuzzMs;
    let round = 0;
    let raw = 0;
    while (Date.now() < deadline) {
      round += 1;
      const batch = fc.sample(requestArb(routes), { seed: seed + round, numRuns: 32 });
      const rawBatch = fc.sample(rawArb(routes), { seed: seed - round, numRuns: 8 });
      await Promise.all([
        pool(batch, 8, async (req) => {
          const s = await sendFuzz(r.url, req, dev);
          statuses.set(s, (statuses.get(s) ?? 0) + 1);
        }),
        pool(rawBatch, 4, async (bytes) => {
          raw += 1;
          await sendRaw(r.port, bytes);
        }),
      ]);
      expect(r.alive(), `receiver died in round ${round} (seed ${seed})`).toBe(true);
    }
    r.sample();
    expect(r.alive()).toBe(true);
    expect((await fetch(`${r.url}/v1/store`)).status).toBe(200);
    const peakMb = Math.round(r.peakRssKb / 1024);
    console.log(
      JSON.stringify({
        fleetFuzz: {
          seed,
          ms: fuzzMs,
          routes: routes.length,
          requests: [...statuses.values()].reduce((a, b) => a + b, 0),
          raw,
          statuses: Object.fromEntries(statuses),
          peakRssMb: peakMb,
        },
      }),
    );
    expect(peakMb).toBeLessThan(rssBoundMb);
  }, 300_000);
});
