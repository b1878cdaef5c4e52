// Enrolment only for registered devices: `rigcap store devices add` prints a one-time token and
// keeps only its digest outside the store; an unregistered id, a missing or wrong token are
// refused with their codes; tokens come from files, and empty or short ones are refused.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceRegistry,
  checkEnrollToken,
  defaultDevicesPath,
  readTokenFile,
} from '../../../receiver/auth/devices.ts';
import { silentLogger } from '../../../agent/log.ts';
import { startReceiver } from '../../../receiver/server.ts';
import { runCli } from '../../support/cli.ts';
import { FakeDevice } from '../sync/fake-device.ts';

const root = mkdtempSync(join(tmpdir(), 'rigcap-devices-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('registered devices', () => {
  it('adds a device: prints its token once, keeps only the digest (0600, beside the store)', async () => {
    const data = join(root, 'store');
    const added = await runCli(['store', 'devices', 'add', 'rig-a', '--data', data, '--json']);
    expect(added.code).toBe(0);
    const { token, registry } = JSON.parse(added.stdout) as { token: string; registry: string };
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(registry).toBe(defaultDevicesPath(data));
    const file = readFileSync(registry, 'utf8');
    expect(file).not.toContain(token);
    expect(statSync(registry).mode & 0o777).toBe(0o600);
    const listed = await runCli(['store', 'devices', 'list', '--data', data, '--json']);
    expect(
      (JSON.parse(listed.stdout) as { devices: Array<{ id: string }> }).devices.map((d) => d.id),
    ).toEqual(['rig-a']);
    const reg = await DeviceRegistry.open(registry);
    expect(reg.admit('rig-a', token).tokenSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an unregistered id, a missing token and a wrong token, each with its code', async () => {
    const path = join(root, 'devices.json');
    const reg = await DeviceRegistry.open(path);
    const token = await reg.add('rig-b');
    expect(() => reg.admit('rig-x', token)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_NOT_REGISTERED' }),
    );
    expect(() => reg.admit('rig-b', undefined)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_ENROLL_REFUSED' }),
    );
    expect(() => reg.admit('rig-b', '')).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_ENROLL_REFUSED' }),
    );
    expect(() => reg.admit('rig-b', `${token}x`)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_ENROLL_REFUSED' }),
    );
    // Re-adding replaces the token; removing unregisters.
    const again = await reg.add('rig-b');
    expect(() => reg.admit('rig-b', token)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_ENROLL_REFUSED' }),
    );
    expect(reg.admit('rig-b', again)).toBeDefined();
    expect(await reg.remove('rig-b')).toBe(true);
    expect(() => reg.admit('rig-b', again)).toThrow(
      expect.objectContaining({ code: 'RIGCAP_RECEIVER_NOT_REGISTERED' }),
    );
  });

  it('writes the token to a new 0600 file with --token-file instead of printing it', async () => {
    const data = join(root, 'store-tf');
    const file = join(root, 'rig-t.token');
    const added = await runCli([
      'store',
      'devices',
      'add',
      'rig-t',
      '--data',
      data,
      '--token-file',
      file,
      '--json',
    ]);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ deviceId: 'rig-t', tokenFile: file });
    const token = readFileSync(file, 'utf8').trim();
    expect(added.stdout).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await DeviceRegistry.open(defaultDevicesPath(data))).admit('rig-t', token)).toBeDefined();
  });

  it('refuses device ids that are not plain names (no path traversal)', async () => {
    const run = await runCli([
      'store',
      'devices',
      'add',
      '../../etc/x',
      '--devices',
      join(root, 'd2.json'),
      '--json',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr + run.stdout).toContain('RIGCAP_RECEIVER_BAD_NAME');
  });

  it('reads tokens from a file and refuses an empty or short one at start-up', async () => {
    const good = join(root, 'tokens');
    writeFileSync(good, '# enrolment tokens\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_\n\n');
    expect(await readTokenFile(good)).toEqual(['AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_']);
    const empty = join(root, 'empty');
    writeFileSync(empty, '\n');
    await expect(readTokenFile(empty)).rejects.toMatchObject({ code: 'RIGCAP_STORE_TOKEN_INVALID' });
    const short = join(root, 'short');
    writeFileSync(short, 'secret\n');
    await expect(readTokenFile(short)).rejects.toMatchObject({ code: 'RIGCAP_STORE_TOKEN_INVALID' });
    expect(() => checkEnrollToken('', 'argv')).toThrow(
      expect.objectContaining({ code: 'RIGCAP_STORE_TOKEN_INVALID' }),
    );
    const run = await runCli([
      'receiver',
      '--listen',
      '127.0.0.1:0',
      '--data',
      join(root, 'r'),
      '--enroll-token-file',
      short,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('RIGCAP_STORE_TOKEN_INVALID');
  });

  it('an embedded receiver enrols a device registered with --data while it runs, and refuses others', async () => {
    const data = join(root, 'live');
    const receiver = await startReceiver({
      dataDir: data,
      host: '127.0.0.1',
      port: 0,
      enrollTokens: [],
      log: silentLogger(),
    });
    const enrol = async (id: string, token: string): Promise<[number, unknown]> => {
      const dev = new FakeDevice({ deviceId: id, spoolDir: join(root, `spool-${id}`) });
      const res = await fetch(`${receiver.url}/v1/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'rigcap-enroll-token': token },
        body: Buffer.from(dev.enrol()),
      });
      return [res.status, ((await res.json()) as { code?: string }).code];
    };
    try {
      const added = await runCli(['store', 'devices', 'add', 'rig-live', '--data', data, '--json']);
      const { token } = JSON.parse(added.stdout) as { token: string };
      expect(await enrol('rig-other', token)).toEqual([403, 'RIGCAP_RECEIVER_NOT_REGISTERED']);
      expect(await enrol('rig-live', `${token.slice(1)}x`)).toEqual([403, 'RIGCAP_RECEIVER_ENROLL_REFUSED']);
      expect((await enrol('rig-live', token))[0]).toBe(201);
      expect(readdirSync(join(data, 'keys')).sort()).toEqual(
        ['rig-live.pub.pem', `${receiver.storeId}.pub.pem`].sort(),
      );
    } finally {
      await receiver.close();
    }
  });
});
