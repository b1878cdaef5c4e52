// The glibc floor of a bundle: every ELF file in it, its machine, and the newest GLIBC_ / GLIBCXX_
// symbol versions it needs (readelf -V reads any architecture, so no cross binutils are needed).
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { walkTree, type NativeFileReport } from './files.ts';

const machines: Record<number, string> = { 62: 'x86-64', 183: 'aarch64' };

/** The ELF machine of a file, or undefined when it is not an ELF file. */
export function elfMachine(path: string): string | undefined {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, head, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return machines[machine] ?? `e_machine ${machine}`;
}

/** Compares dotted versions numerically ("2.9" < "2.17"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function newest(versions: readonly string[]): string | null {
  return versions.length === 0 ? null : [...versions].sort(compareVersions).at(-1)!;
}

/** The symbol versions an ELF file needs, from its .gnu.version_r section. */
export function neededVersions(path: string): { glibc: string | null; glibcxx: string | null } {
  const result = spawnSync('readelf', ['-V', '-W', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined || result.status !== 0)
    throw new Error(
      `readelf -V ${path} failed (apt-get install binutils): ${result.error?.message ?? result.stderr}`,
    );
  const glibc: string[] = [];
  const glibcxx: string[] = [];
  for (const m of result.stdout.matchAll(/Name: (GLIBC|GLIBCXX)_([0-9.]+)/g)) {
    (m[1] === 'GLIBC' ? glibc : glibcxx).push(m[2]!);
  }
  return { glibc: newest(glibc), glibcxx: newest(glibcxx) };
}

/** The oldest Linux kernel an ELF file declares it needs (its NT_GNU_ABI_TAG note), if it has one. */
export function linuxAbiTag(path: string): string | null {
  const r = spawnSync('readelf', ['-n', '-W', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return /OS: Linux, ABI: ([0-9.]+)/.exec(r.stdout ?? '')?.[1] ?? null;
}

/** Every native file under root with what it needs, sorted by path. */
export function nativeReport(root: string): NativeFileReport[] {
  const out: NativeFileReport[] = [];
  for (const entry of walkTree(root)) {
    if (entry.kind !== 'file') continue;
    const abs = join(root, entry.path);
    const machine = elfMachine(abs);
    if (machine === undefined) continue;
    out.push({ path: entry.path, machine, ...neededVersions(abs), linux: linuxAbiTag(abs) });
  }
  return out;
}

/** The newest glibc version any file of the report needs. */
export function glibcFloor(report: readonly NativeFileReport[]): string | null {
  return newest(report.flatMap((r) => (r.glibc === null ? [] : [r.glibc])));
}

/** glibc of the JetPack releases (Ubuntu 20.04 and 22.04 on Jetson). */
export const jetpackGlibc = { 'JetPack 5': '2.31', 'JetPack 6': '2.35' } as const;

/** Kernels of the JetPack releases (L4T 35 and 36). */
export const jetpackKernel = { 'JetPack 5': '5.10', 'JetPack 6': '5.15' } as const;
/** Node 22's documented Linux floor (kernel 4.18, glibc 2.28), below both JetPack kernels. */
export const supportedKernelFloor = '4.18';

/** The newest glibc a bundle may need: JetPack 5's (see README, Field deployment). */
export const supportedGlibcFloor = jetpackGlibc['JetPack 5'];
/** The newest libstdc++ symbol version a bundle may need: Ubuntu 20.04's (GCC 10 runtime). */
export const supportedGlibcxxFloor = '3.4.28';
