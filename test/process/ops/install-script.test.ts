// scripts/install.sh from a source checkout: shellcheck-clean, a dry run changes nothing, a staged
// install under --prefix creates the layout with the right modes, runs again without changes, and
// --uninstall keeps the spool. Installs from offline bundles: test/process/bundle/install.test.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findTool, missingTool } from './system-tools.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const script = join(repo, 'scripts', 'install.sh');
const work = mkdtempSync(join(tmpdir(), 'rigcap-install-'));
const shellcheck = findTool('shellcheck');
const arch = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim();
const supported = arch === 'x86_64' || arch === 'aarch64';

function install(...args: string[]): { code: number | null; out: string } {
  const result = spawnSync('sh', [script, ...args], { encoding: 'utf8' });
  return { code: result.status, out: result.stdout + result.stderr };
}
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(shellcheck === undefined)('install.sh lint', () => {
  it('is shellcheck clean', () => {
    const result = spawnSync('shellcheck', ['--shell=sh', script], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});
if (!(shellcheck !== undefined))
  describe('install.sh lint (skipped)', () => {
    it.skip(missingTool('shellcheck', 'shellcheck'), () => {});
  });

describe.skipIf(!supported)('install.sh', () => {
  it('prints the system install in a dry run and touches nothing', () => {
    const root = join(work, 'dry');
    const { code, out } = install('--prefix', root, '--dry-run');
    expect(code, out).toBe(0);
    expect(out).toContain(`would run: install -d -m 0700 ${root}/var/lib/rigcap/secrets`);
    expect(out).toMatch(/would run: install -D -m 0644 \S+ .*\/etc\/systemd\/system\/rigcap\.service/);
    expect(existsSync(root)).toBe(false);
    const system = install('--dry-run');
    expect(system.code, system.out).toBe(0);
    expect(system.out).toMatch(/would run: useradd --system .* rigcap|user: rigcap exists/);
    expect(system.out).toContain('next steps:');
  });

  it('installs the layout under --prefix, is idempotent, and uninstall keeps unsynced data', () => {
    const root = join(work, 'staged');
    const first = install('--prefix', root);
    expect(first.code, first.out).toBe(0);
    expect(mode(join(root, 'var/lib/rigcap/secrets'))).toBe('700');
    expect(mode(join(root, 'var/lib/rigcap/spool'))).toBe('750');
    expect(mode(join(root, 'etc/rigcap'))).toBe('750');
    const unit = readFileSync(join(root, 'etc/systemd/system/rigcap.service'), 'utf8');
    expect(unit).toContain(
      `ExecStart=${process.execPath} ${repo}/bin/rigcap.js run --config /etc/rigcap/rigcap.yaml`,
    );
    expect(unit).not.toContain('/opt/rigcap');
    expect(existsSync(join(root, 'etc/tmpfiles.d/rigcap.conf'))).toBe(true);
    expect(first.out).toContain('rigcap.yaml');

    const second = install('--prefix', root);
    expect(second.code, second.out).toBe(0);
    expect(second.out).not.toContain('installed:');
    expect(second.out.match(/unchanged:/g)).toHaveLength(2);

    writeFileSync(join(root, 'var/lib/rigcap/spool/chunk-000001.mcap'), 'unsynced');
    const removed = install('--prefix', root, '--uninstall');
    expect(removed.code, removed.out).toBe(0);
    expect(existsSync(join(root, 'etc/systemd/system/rigcap.service'))).toBe(false);
    expect(readdirSync(join(root, 'var/lib/rigcap/spool'))).toEqual(['chunk-000001.mcap']);
    expect(removed.out).toMatch(/kept: .*spool: it may hold chunks not yet synced/);
  });

  it('--no-systemd installs the layout without units or tmpfiles', () => {
    const root = join(work, 'no-systemd');
    const result = install('--prefix', root, '--no-systemd');
    expect(result.code, result.out).toBe(0);
    expect(mode(join(root, 'var/lib/rigcap/secrets'))).toBe('700');
    expect(existsSync(join(root, 'etc/systemd/system/rigcap.service'))).toBe(false);
    expect(existsSync(join(root, 'etc/tmpfiles.d/rigcap.conf'))).toBe(false);
  });

  it('refuses a --bundle that is not a .tar.zst or .tar.gz, changing nothing', () => {
    const root = join(work, 'bad-bundle');
    const bogus = join(work, 'rigcap.zip');
    writeFileSync(bogus, 'not a bundle');
    const result = install('--bundle', bogus, '--prefix', root, '--no-systemd');
    expect(result.code, result.out).toBe(1);
    expect(result.out).toContain('expected a .tar.zst or .tar.gz bundle');
    expect(existsSync(root)).toBe(false);
  });

  it('refuses unknown options with exit 2', () => {
    expect(install('--bogus').code).toBe(2);
  });
});
