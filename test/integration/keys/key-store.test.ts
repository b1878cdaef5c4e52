import { chmod, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { KeyStore, RecordSealer } from '../../../agent/keys/index.ts';
import { keyIdOf, spkiBlocksOfPem } from '../../../agent/records/index.ts';

async function fresh(): Promise<{ keysDir: string; rootDir: string }> {
  const base = await mkdtemp(join(tmpdir(), 'rigcap-keys-'));
  return { keysDir: join(base, 'secrets'), rootDir: join(base, 'agent') };
}

describe('KeyStore', () => {
  it('writes the private key 0600 in a 0700 folder and exports the public key as SPKI PEM', async () => {
    const dirs = await fresh();
    const store = new KeyStore({ ...dirs, signerId: 'rig-k', log: silentLogger() });
    const signer = await store.create();
    expect((await stat(store.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(dirs.keysDir)).mode & 0o777).toBe(0o700);
    expect(spkiBlocksOfPem(await readFile(store.publicKeysPath, 'utf8')).map((k) => keyIdOf(k))).toEqual([
      signer.keyId,
    ]);
    await expect(store.create()).rejects.toMatchObject({ code: 'RIGCAP_KEY_EXISTS' });
  });

  it('refuses to load a key group or other can read', async () => {
    const dirs = await fresh();
    const store = new KeyStore({ ...dirs, signerId: 'rig-k', log: silentLogger() });
    await store.create();
    await chmod(store.privateKeyPath, 0o640);
    await expect(store.load()).rejects.toMatchObject({ code: 'RIGCAP_KEY_PERMISSIONS' });
    await chmod(store.privateKeyPath, 0o600);
    await chmod(dirs.keysDir, 0o755);
    await expect(store.load()).rejects.toMatchObject({ code: 'RIGCAP_KEY_PERMISSIONS' });
  });

  it('rotation appends the new key (oldest first); a rotation cut short before its record is discarded on open', async () => {
    const dirs = await fresh();
    const open = () =>
      RecordSealer.open({
        ...dirs,
        signerId: 'rig-k',
        log: silentLogger(),
        keyPolicy: 'create-if-missing',
        bootId: 'b',
      });
    const sealer = await open();
    const first = sealer.keyId;
    const { newKeyId, seq } = await sealer.rotateKey();
    expect(seq).toBe(2);
    expect(sealer.keyId).toBe(newKeyId);
    expect((await sealer.keys.publicKeys()).map((k) => keyIdOf(k))).toEqual([first, newKeyId]);
    // A staged key without its rotation record (crash before the commit point) must not be used.
    const staged = await sealer.keys.stage();
    await sealer.close();
    const again = await open();
    expect(again.keyId).toBe(newKeyId);
    expect(again.keyId).not.toBe(staged.keyId);
    expect(await again.keys.staged()).toBeUndefined();
    await expect(
      RecordSealer.open({
        ...(await fresh()),
        signerId: 'x',
        log: silentLogger(),
        keyPolicy: 'require-existing',
      }),
    ).rejects.toMatchObject({ code: 'RIGCAP_KEY_MISSING' });
  });
});
