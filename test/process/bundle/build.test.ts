// `npm run bundle`: one tarball per architecture that unpacks to one folder (install.sh, a launcher,
// Node 22 for the target, the app with the target's native dependencies, a manifest and an SBOM),
// whose native files all run on JetPack 5's glibc (2.31) and so on JetPack 6's, and which is byte-identical when built again.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heavySkipReason } from '../../support/heavy.ts';
import type { BundleArch, BundleResult } from '../../../scripts/bundle/build.ts';
import {
  compareVersions,
  jetpackGlibc,
  supportedGlibcFloor,
  supportedGlibcxxFloor,
  supportedKernelFloor,
} from '../../../scripts/bundle/elf.ts';
import { checkManifest, type BundleManifest } from '../../../scripts/bundle/files.ts';
import {
  buildInChild,
  buildTimeoutMs,
  cannotBuild,
  nativeCacheDir,
  sharedBundle,
  unpack,
} from './bundles.ts';

const work = mkdtempSync(join(tmpdir(), 'rigcap-bundle-build-'));
afterAll(() => rmSync(work, { recursive: true, force: true }), 5 * 60_000);

const machines: Record<BundleArch, string> = { x64: 'x86-64', arm64: 'aarch64' };

describe.each(['x64', 'arm64'] as const)('the %s bundle', (arch) => {
  const blocked = heavySkipReason ?? cannotBuild(arch);
  let bundle: BundleResult;
  let root: string;
  let manifest: BundleManifest;

  beforeAll(async () => {
    if (blocked !== undefined) return;
    bundle = await sharedBundle(arch);
    root = unpack(bundle.file, join(work, arch));
    manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as BundleManifest;
  }, buildTimeoutMs);

  it.skipIf(blocked !== undefined)(
    `unpacks to one folder with install.sh, the launcher, Node 22 for linux-${arch}, the app, a manifest and an SBOM`,
    () => {
      const version = (
        JSON.parse(readFileSync(join(import.meta.dirname, '../../../package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
      expect(bundle.file).toMatch(
        new RegExp(`rigcap-${version.replace(/\./g, '\\.')}-linux-${arch}\\.tar\\.zst$`),
      );
      expect(readdirSync(join(root, '..'))).toEqual([`rigcap-${version}-linux-${arch}`]);
      for (const path of [
        'install.sh',
        'bin/rigcap',
        'node/bin/node',
        'app/bin/rigcap.js',
        'manifest.json',
        'sbom.cdx.json',
      ])
        expect(existsSync(join(root, path)), path).toBe(true);
      expect(readFileSync(join(root, 'bin/rigcap'), 'utf8')).toMatch(
        /^#!\/bin\/sh\n[\s\S]*node\/bin\/node" "\$here\/app\/bin\/rigcap\.js"/,
      );
      expect(manifest.platform).toBe(`linux-${arch}`);
      expect(manifest.node).toMatch(/^22\./);
      // The target's prebuilt binaries and nothing else: no other platform's sharp, onnxruntime or zeromq.
      const nm = join(root, 'app/node_modules');
      expect(
        readdirSync(join(nm, '@img'))
          .filter((d) => d.startsWith('sharp-'))
          .sort(),
      ).toEqual([`sharp-libvips-linux-${arch}`, `sharp-linux-${arch}`]);
      expect(readdirSync(join(nm, 'onnxruntime-node/bin/napi-v6'))).toEqual(['linux']);
      expect(readdirSync(join(nm, 'onnxruntime-node/bin/napi-v6/linux'))).toEqual([arch]);
      expect(readdirSync(join(nm, 'zeromq/build/linux'))).toEqual([arch]);
      expect(readdirSync(join(nm, `zeromq/build/linux/${arch}/node`))).toEqual(['glibc-127-Release']);
      expect(existsSync(join(nm, 'better-sqlite3/build/Release/better_sqlite3.node'))).toBe(true);
      expect(existsSync(join(root, 'app/agent/ops/native/build/sd_notify.node'))).toBe(true);
      // Dev-only packages stay out.
      for (const dev of ['vitest', 'typescript', 'eslint', 'node'])
        expect(existsSync(join(nm, dev)), dev).toBe(false);
    },
  );

  it.skipIf(blocked !== undefined)('every file matches the manifest, and a changed byte is caught', () => {
    expect(checkManifest(root)).toEqual([]);
    const copy = join(work, `${arch}-tampered`);
    const tampered = unpack(bundle.file, copy);
    const target = join(tampered, 'app/package.json');
    writeFileSync(target, readFileSync(target, 'utf8').replace('"rigcap"', '"rigcop"'));
    expect(checkManifest(tampered)).toEqual(['app/package.json: sha256 differs from the manifest']);
    rmSync(copy, { recursive: true, force: true });
  });

  it.skipIf(blocked !== undefined)(
    `every native file is built for ${machines[arch]} and needs at most glibc ${supportedGlibcFloor} (JetPack 5 and 6)`,
    () => {
      expect(manifest.native.length).toBeGreaterThanOrEqual(7);
      const lines = manifest.native.map(
        (n) =>
          `${n.machine.padEnd(7)} GLIBC_${(n.glibc ?? '-').padEnd(5)} GLIBCXX_${(n.glibcxx ?? '-').padEnd(7)} Linux ${(n.linux ?? '-').padEnd(6)} ${n.path}`,
      );
      const floor = manifest.glibcFloor ?? '0';
      const jetpacks = Object.entries(jetpackGlibc)
        .map(
          ([name, glibc]) =>
            `${name} (glibc ${glibc}): ${compareVersions(floor, glibc) <= 0 ? 'runs' : 'too old'}`,
        )
        .join('; ');
      process.stderr.write(
        `linux-${arch} native files (glibc floor ${floor}; ${jetpacks}):\n  ${lines.join('\n  ')}\n`,
      );
      for (const n of manifest.native) {
        expect(n.machine, n.path).toBe(machines[arch]);
        expect(
          compareVersions(n.glibc ?? '0', supportedGlibcFloor),
          `${n.path} needs GLIBC_${n.glibc}`,
        ).toBeLessThanOrEqual(0);
        expect(
          compareVersions(n.glibcxx ?? '0', supportedGlibcxxFloor),
          `${n.path} needs GLIBCXX_${n.glibcxx}`,
        ).toBeLessThanOrEqual(0);
      }
      const node = manifest.native.find((n) => n.path === 'node/bin/node');
      expect(node?.glibc).toBe('2.28');
      // The kernel: every ABI tag at most Node 22's documented floor (4.18), itself below JetPack 5's 5.10.
      for (const n of manifest.native)
        if (n.linux !== null)
          expect(compareVersions(n.linux, supportedKernelFloor), n.path).toBeLessThanOrEqual(0);
      expect(node?.linux).not.toBeNull();
    },
  );

  it.skipIf(blocked !== undefined)(
    'the SBOM lists every installed package with its version and licence',
    () => {
      const sbom = JSON.parse(readFileSync(join(root, 'sbom.cdx.json'), 'utf8')) as {
        bomFormat: string;
        specVersion: string;
        components: Array<{ name: string; version: string; licenses: unknown[]; purl: string }>;
      };
      expect(sbom.bomFormat).toBe('CycloneDX');
      expect(sbom.specVersion).toBe('1.5');
      const names = new Set(sbom.components.map((c) => c.name));
      const installed: string[] = [];
      const nm = join(root, 'app/node_modules');
      for (const entry of readdirSync(nm)) {
        if (entry.startsWith('.')) continue;
        if (entry.startsWith('@'))
          for (const sub of readdirSync(join(nm, entry))) installed.push(`${entry}/${sub}`);
        else installed.push(entry);
      }
      expect(installed.filter((name) => !names.has(name))).toEqual([]);
      for (const c of sbom.components) {
        expect(c.version, c.name).toMatch(/^\d+\.\d+\.\d+/);
        expect(c.licenses.length, `${c.name} has no licence`).toBeGreaterThan(0);
      }
      expect(names.has(`node-linux-${arch}`)).toBe(true);
      expect(names.has(`@img/sharp-linux-${arch}`)).toBe(true);
    },
  );
});

describe('building again', () => {
  const blocked = heavySkipReason ?? cannotBuild('arm64');
  it.skipIf(blocked !== undefined)(
    'gives the same bytes from the same commit and lockfile',
    async () => {
      const first = await sharedBundle('arm64');
      const again = await buildInChild({
        arch: 'arm64',
        outDir: join(work, 'again'),
        commit: first.manifest.commit,
        nativeCacheDir,
      });
      expect(again.sha256).toBe(first.sha256);
      const sums = spawnSync('sha256sum', [again.file], { encoding: 'utf8' }).stdout;
      expect(sums.startsWith(first.sha256)).toBe(true);
    },
    buildTimeoutMs,
  );
});
