// CycloneDX 1.5 SBOM of a bundle, from package-lock.json: every package that ships for the target
// (name, version, licence, integrity) plus the Node runtime. No clock or random input: the serial
// number and timestamp derive from the lockfile and the commit time, so the bytes are reproducible.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly license?: string;
  readonly integrity?: string;
  readonly resolved?: string;
  readonly link?: boolean;
  readonly dev?: boolean;
}

export interface Lockfile {
  readonly name: string;
  readonly version: string;
  readonly packages: Readonly<Record<string, LockEntry>>;
}

export interface RuntimeComponent {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  /** sha512 of the npm tarball it was unpacked from, base64 (npm's integrity without the prefix). */
  readonly sha512: string;
}

export interface SbomOptions {
  readonly lock: Lockfile;
  /** The staged app/ folder: a lockfile package is listed only when it was installed there. */
  readonly appDir: string;
  readonly platform: string;
  readonly runtime: RuntimeComponent;
  readonly sourceDateEpoch: number;
  /** Lockfile packages that do not ship (the `node` launcher package: the runtime replaces it). */
  readonly omit: readonly string[];
}

/** The package name a lockfile key installs ("node_modules/a/node_modules/@s/b" → "@s/b"). */
function packageName(key: string, entry: LockEntry): string {
  return entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
}

/** The licence an installed package's package.json declares (linked local packages have none in the lockfile). */
function installedLicense(dir: string): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { license?: unknown };
    return typeof pkg.license === 'string' ? pkg.license : undefined;
  } catch (err) {
    // No package.json there, or one that is not JSON: no licence to read.
    const errno = (err as { code?: unknown } | null)?.code;
    if (errno !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    return undefined;
  }
}

function purl(name: string, version: string): string {
  return `pkg:npm/${name.replace('@', '%40')}@${version}`;
}

function licenses(id: string | undefined): Array<Record<string, unknown>> {
  if (id === undefined) return [];
  return /\s(OR|AND|WITH)\s|[()]/.test(id) ? [{ expression: id }] : [{ license: { id } }];
}

function hashes(integrity: string | undefined): Array<{ alg: string; content: string }> {
  const m = /^sha512-(.+)$/.exec(integrity ?? '');
  return m === null ? [] : [{ alg: 'SHA-512', content: Buffer.from(m[1]!, 'base64').toString('hex') }];
}

/** A name-based UUID (RFC 4122 layout) from bytes, so the serial number is stable per input. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** The SBOM document for one bundle. */
export function cycloneDx(options: SbomOptions): Record<string, unknown> {
  const { lock } = options;
  const components: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  for (const [key, entry] of Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!key.startsWith('node_modules/') && !key.includes('/node_modules/')) continue;
    if (entry.dev === true || !existsSync(join(options.appDir, key))) continue;
    const name = packageName(key, entry);
    if (options.omit.includes(name)) continue;
    const target =
      entry.link === true && entry.resolved !== undefined ? lock.packages[entry.resolved] : entry;
    const version = target?.version ?? entry.version ?? '0.0.0';
    const ref = purl(name, version);
    if (seen.has(ref)) continue;
    seen.add(ref);
    components.push({
      type: 'library',
      'bom-ref': ref,
      name,
      version,
      purl: ref,
      licenses: licenses(target?.license ?? entry.license ?? installedLicense(join(options.appDir, key))),
      hashes: hashes(entry.integrity),
    });
  }
  const runtimeRef = purl(options.runtime.name, options.runtime.version);
  components.push({
    type: 'platform',
    'bom-ref': runtimeRef,
    name: options.runtime.name,
    version: options.runtime.version,
    purl: runtimeRef,
    licenses: licenses(options.runtime.license),
    hashes: [{ alg: 'SHA-512', content: Buffer.from(options.runtime.sha512, 'base64').toString('hex') }],
  });
  const seed = createHash('sha256').update(JSON.stringify(lock)).digest('hex');
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${stableUuid(`${seed}:${options.platform}:${options.runtime.version}`)}`,
    version: 1,
    metadata: {
      timestamp: new Date(options.sourceDateEpoch * 1000).toISOString(),
      component: {
        type: 'application',
        'bom-ref': purl(lock.name, lock.version),
        name: lock.name,
        version: lock.version,
        purl: purl(lock.name, lock.version),
        licenses: licenses(lock.packages['']?.license),
        properties: [{ name: 'rigcap:platform', value: options.platform }],
      },
    },
    components,
  };
}
