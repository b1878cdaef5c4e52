// Every refusal the fleet store promises, against two `rigcap receiver --db … --blobs …` processes
// with signed requests and per-device quotas on: each answered with its status and code, and each
// leaves the bucket and the log exactly as they were (nothing stored). A replay is sent to the other
// instance than the original, since the nonces are shared through PostgreSQL. The published log
// tiles (ref/log/, written after each admission) are left out of the bucket's listing: the log's
// size, from either instance's checkpoint, stands for them.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, nodeSigner } from '../../../agent/records/ed25519.ts';
import { runCli } from '../../support/cli.ts';
import { postgresSkipReason } from '../../support/engines/postgres.ts';
import { rgwSkipReason } from '../../support/engines/rgw.ts';
import { listBucket, s3ClientOf } from '../../support/fleet-checks.ts';
import { createHeaders, resigned, send, signed } from '../../support/fleet-requests.ts';
import { fleetArgs, fleetSuite, startReceivers, type ReceiverInstance } from '../../support/fleet-rig.ts';
import { FakeDevice } from '../../integration/sync/fake-device.ts';

const skip = postgresSkipReason ?? rgwSkipReason;
const partLimit = 256 * 1024;
const uploadLimit = 1024 * 1024;

describe.skipIf(skip !== undefined)('refusals of the fleet store: a code each, nothing stored', () => {
  const fleet = fleetSuite('rigcap-refusals-');
  let dbUrl: string;

  beforeAll(async () => {
    dbUrl = await fleet.pg.createDatabase();
  });

  async function register(id: string): Promise<string> {
    const file = join(fleet.root, `${id}.token`);
    const run = await runCli(['store', 'devices', 'add', id, '--db', dbUrl, '--token-file', file]);
    expect(run.code, run.stderr).toBe(0);
    return readFileSync(file, 'utf8').trim();
  }

  it('no signature, bad signature, replay, unknown device, unregistered, empty/used token, quota, oversize, traversal', async () => {
    const ids = ['rig-a', 'rig-b', 'rig-d', 'rig-e'];
    const startupToken = randomBytes(32).toString('base64url');
    const tokens = Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await register(id)])));
    fleet.receivers = await startReceivers(2, {
      dir: fleet.root,
      args: fleetArgs({
        dir: fleet.root,
        dbUrl,
        blobs: `s3://${fleet.rgw.bucket}/ref`,
        endpoint: fleet.rgw.endpoint,
        tokens: [startupToken],
        extra: [
          '--quota-open-uploads',
          '1',
          '--quota-upload-bytes',
          String(uploadLimit),
          '--max-part-bytes',
          String(partLimit),
        ],
      }),
      env: fleet.rgw.awsEnv,
    });
    const [r0, r1] = fleet.receivers as [ReceiverInstance, ReceiverInstance];
    const s3 = s3ClientOf(fleet.rgw.endpoint, fleet.rgw.awsEnv);
    const logSize = async (): Promise<number> => {
      const note = await (await fetch(`${r1.url}/v1/log/checkpoint`)).text();
      return Number(note.split('\n')[1]);
    };
    const snapshot = async (): Promise<string> =>
      JSON.stringify({
        objects: [...(await listBucket(s3, fleet.rgw.bucket, 'ref/'))]
          .filter(([k]) => !k.startsWith('ref/log/'))
          .sort(),
        log: await logSize(),
      });
    const device = (id: string, sessionId?: string): FakeDevice =>
      new FakeDevice({
        deviceId: id,
        spoolDir: join(fleet.root, 'spool', randomBytes(4).toString('hex')),
        ...(sessionId === undefined ? {} : { sessionId }),
      });
    const records = (
      url: string,
      body: Uint8Array,
      headers: Record<string, string>,
    ): Promise<[number, string]> =>
      send(`${url}/v1/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });

    const a = device('rig-a');
    expect(await records(r0.url, a.enrol(), { 'rigcap-enroll-token': tokens['rig-a']! })).toEqual([201, '']);

    const refusals: Array<[string, () => Promise<[number, string]>, [number, string]]> = [];
    const refuse = (what: string, act: () => Promise<[number, string]>, want: [number, string]): void => {
      refusals.push([what, act, want]);
    };
    const body = randomBytes(64 * 1024);
    refuse(
      'unsigned create',
      () => send(`${r0.url}/v1/uploads`, { method: 'POST', headers: createHeaders(body) }),
      [401, 'RIGCAP_RECEIVER_UNAUTHENTICATED'],
    );
    refuse('unsigned record', () => records(r0.url, a.openSession(), {}), [
      401,
      'RIGCAP_RECEIVER_UNAUTHENTICATED',
    ]);
    refuse(
      'bad signature (a signed header changed)',
      () =>
        send(`${r0.url}/v1/uploads`, {
          method: 'POST',
          headers: { ...signed(a, 'POST', '/v1/uploads', createHeaders(body)), 'upload-length': '5' },
        }),
      [401, 'RIGCAP_RECEIVER_BAD_SIGNATURE'],
    );
    const stranger = { signer: nodeSigner(generateKeyPair().privateKeyPem) };
    refuse(
      'unknown device key',
      () =>
        send(`${r0.url}/v1/uploads`, {
          method: 'POST',
          headers: signed(stranger, 'POST', '/v1/uploads', createHeaders(body)),
        }),
      [403, 'RIGCAP_RECEIVER_UNKNOWN_DEVICE'],
    );
    refuse(
      'device not registered',
      () => records(r0.url, device('rig-unlisted').enrol(), { 'rigcap-enroll-token': tokens['rig-a']! }),
      [403, 'RIGCAP_RECEIVER_NOT_REGISTERED'],
    );
    refuse('empty token', () => records(r0.url, device('rig-b').enrol(), { 'rigcap-enroll-token': '' }), [
      403,
      'RIGCAP_RECEIVER_ENROLL_REFUSED',
    ]);
    refuse(
      "another device's token",
      () => records(r1.url, device('rig-b').enrol(), { 'rigcap-enroll-token': tokens['rig-a']! }),
      [403, 'RIGCAP_RECEIVER_ENROLL_REFUSED'],
    );
    refuse(
      'oversize upload',
      () => {
        const big = createHeaders(body);
        big['upload-length'] = String(uploadLimit + 1);
        return send(`${r0.url}/v1/uploads`, {
          method: 'POST',
          headers: signed(a, 'POST', '/v1/uploads', big),
        });
      },
      [413, 'RIGCAP_RECEIVER_OVERSIZE'],
    );
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '..%5C..%5Cwin.ini', '0123456789abcdef0123456789abcdeg']) {
      const path = `/v1/uploads/${name}`;
      refuse(
        `traversal in an upload id (${name})`,
        () => send(`${r1.url}${path}`, { method: 'DELETE', headers: signed(a, 'DELETE', path, {}) }),
        [404, 'RIGCAP_RECEIVER_BAD_NAME'],
      );
    }
    const x = device('rig-a');
    refuse(
      'traversal in a device id',
      () =>
        records(
          r0.url,
          resigned(x.enrol(), x.signer, (p) => p.replaceAll('"rig-a"', '"../../etc"')),
          {
            'rigcap-enroll-token': tokens['rig-a']!,
          },
        ),
      [400, 'RIGCAP_RECEIVER_BAD_NAME'],
    );
    refuse(
      'traversal in a session id',
      () => {
        const bytes = resigned(a.openSession(), a.signer, (p) => p.replaceAll(a.sessionId, '../../etc'));
        return records(
          r0.url,
          bytes,
          signed(a, 'POST', '/v1/records', { 'content-type': 'application/json' }, bytes),
        );
      },
      [400, 'RIGCAP_RECEIVER_BAD_RECORD'],
    );

    const seen: Array<[string, [number, string]]> = [];
    for (const [what, act, want] of refusals) {
      const before = await snapshot();
      const got = await act();
      const after = await snapshot();
      seen.push([what, got]);
      expect([what, got], what).toEqual([what, want]);
      expect(after, `${what} stored something`).toBe(before);
    }

    // Used tokens: a start-up token enrols one device, then no other (on either instance); a second
    // key enrolling for rig-b with rig-b's used token would fork its chain.
    const enrolWith = (url: string, id: string, token: string): Promise<[number, string]> =>
      records(url, device(id).enrol(), { 'rigcap-enroll-token': token });
    expect(await enrolWith(r0.url, 'rig-d', startupToken)).toEqual([201, '']);
    expect(await enrolWith(r0.url, 'rig-b', tokens['rig-b']!)).toEqual([201, '']);
    let before = await snapshot();
    expect(await enrolWith(r1.url, 'rig-e', startupToken)).toEqual([403, 'RIGCAP_RECEIVER_ENROLL_REFUSED']);
    expect(await enrolWith(r1.url, 'rig-b', tokens['rig-b']!)).toEqual([409, 'RIGCAP_RECEIVER_CHAIN_FORK']);
    expect(await snapshot()).toBe(before);

    // A replay, sent to the other instance: refused, and the first request's effect is not repeated.
    const session = a.openSession();
    const once = signed(a, 'POST', '/v1/records', { 'content-type': 'application/json' }, session);
    expect((await records(r0.url, session, once))[0]).toBe(201);
    before = await snapshot();
    expect(await records(r1.url, session, once)).toEqual([401, 'RIGCAP_RECEIVER_REPLAY']);
    const stale = signed(a, 'POST', '/v1/records', { 'content-type': 'application/json' }, session, {
      created: Math.floor(Date.now() / 1000) - 3600,
    });
    expect(await records(r1.url, session, stale)).toEqual([401, 'RIGCAP_RECEIVER_REPLAY']);
    expect(await snapshot()).toBe(before);

    // Quotas: one open upload; a second is refused, a part over the part limit is refused whole.
    const open = await fetch(`${r0.url}/v1/uploads`, {
      method: 'POST',
      headers: signed(a, 'POST', '/v1/uploads', createHeaders(randomBytes(512 * 1024))),
    });
    expect(open.status).toBe(201);
    const path = new URL(open.headers.get('location') ?? '', r0.url).pathname;
    before = await snapshot();
    expect(
      await send(`${r1.url}/v1/uploads`, {
        method: 'POST',
        headers: signed(a, 'POST', '/v1/uploads', createHeaders(body)),
      }),
    ).toEqual([429, 'RIGCAP_RECEIVER_QUOTA']);
    const part = randomBytes(partLimit + 1);
    const h = {
      'tus-resumable': '1.0.0',
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
    };
    expect(
      await send(`${r1.url}${path}`, {
        method: 'PATCH',
        headers: signed(a, 'PATCH', path, h, part),
        body: part,
      }),
    ).toEqual([413, 'RIGCAP_RECEIVER_OVERSIZE']);
    expect(await snapshot()).toBe(before);
    const head = await fetch(`${r0.url}${path}`, {
      method: 'HEAD',
      headers: signed(a, 'HEAD', path, { 'tus-resumable': '1.0.0' }),
    });
    expect(head.headers.get('upload-offset')).toBe('0');
    expect(fleet.receivers.every((r) => r.alive())).toBe(true);
    s3.destroy();
  }, 300_000);
});
