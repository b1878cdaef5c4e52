// Running the arm64 bundle on this x86_64 machine: qemu user-mode emulation through binfmt_misc, the
// aarch64 C/C++ runtime from Debian's cross packages (QEMU_LD_PREFIX), and, where qemu hands an
// emulated process the host's /proc/cpuinfo, an aarch64 one put over it in a private mount namespace.
//
// Why the last part: onnxruntime's CPU detection (the pytorch cpuinfo library inside
// libonnxruntime.so) parses /proc/cpuinfo when the addon loads. Debian 12's qemu-user-static (7.2)
// passes the x86 host's file through unchanged (qemu emulates it for aarch64 only from 8.1); the
// parser finds no ARM core in it (no "CPU implementer"/"CPU part" lines), goes on to read the cache
// topology under /sys/devices/system/cpu, and dereferences NULL: SIGSEGV on `require`. A real
// Jetson's kernel writes an aarch64 /proc/cpuinfo, so nothing of this applies there.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

export const sysroot = '/usr/aarch64-linux-gnu';
const binfmt = '/proc/sys/fs/binfmt_misc';

/** The environment an emulated process runs with: the target's C library and system tools only. */
export const emulatedEnv = { ...process.env, QEMU_LD_PREFIX: sysroot, PATH: '/usr/bin:/bin' };

/** Makes aarch64 binaries runnable (binfmt_misc), or says why they are not. */
export function emulatorMissing(): string | undefined {
  const qemu = spawnSync('qemu-aarch64-static', ['--version'], { stdio: 'ignore' });
  if (qemu.error !== undefined || qemu.status !== 0)
    return 'qemu-aarch64-static is not installed: apt-get install qemu-user-static binfmt-support to run the arm64 bundle';
  if (
    !existsSync(join(sysroot, 'lib', 'ld-linux-aarch64.so.1')) ||
    !existsSync(join(sysroot, 'lib', 'libstdc++.so.6'))
  )
    return `no aarch64 C/C++ runtime in ${sysroot}: apt-get install g++-aarch64-linux-gnu`;
  if (!existsSync(join(binfmt, 'qemu-aarch64'))) {
    // Root can mount binfmt_misc and register qemu (the package does it when binfmt_misc was mounted).
    if (!existsSync(join(binfmt, 'register')))
      spawnSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmt]);
    spawnSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'ignore' });
  }
  if (!existsSync(join(binfmt, 'qemu-aarch64')))
    return `binfmt_misc has no qemu-aarch64 entry (mount -t binfmt_misc binfmt_misc ${binfmt}; update-binfmts --enable qemu-aarch64 failed here)`;
  return undefined;
}

/**
 * An aarch64 /proc/cpuinfo in the kernel's format: one Cortex-A78AE (Jetson AGX Orin's core, MIDR
 * 0x411fd421) per host CPU, so the processor count agrees with /sys/devices/system/cpu.
 */
export function jetsonCpuinfo(): string {
  const features =
    'fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp uscat ilrcpc flagm paca pacg';
  return Array.from(
    { length: Math.max(1, cpus().length) },
    (_, i) =>
      `processor\t: ${i}\nBogoMIPS\t: 62.50\nFeatures\t: ${features}\nCPU implementer\t: 0x41\n` +
      'CPU architecture: 8\nCPU variant\t: 0x1\nCPU part\t: 0xd42\nCPU revision\t: 1\n',
  ).join('\n');
}

/** How a command ended: its exit status (null when killed, e.g. past its timeout) and output. */
export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** How emulated commands run: directly, or in a mount namespace over an aarch64 /proc/cpuinfo. */
export interface Emulation {
  /** Set when /proc/cpuinfo is replaced for emulated processes (qemu older than 8.1). */
  readonly fakeCpuinfo: string | undefined;
  run(file: string, args: readonly string[], options: { cwd: string; timeout: number }): Promise<Ran>;
}

/**
 * Runs a command without blocking this process (an emulated run takes minutes, and a vitest worker
 * blocked that long loses its messages to vitest); a non-zero exit is a result, not an error.
 */
function runAsync(
  file: string,
  args: readonly string[],
  options: { cwd: string; timeout: number },
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { ...options, encoding: 'utf8', env: emulatedEnv, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code;
        resolve({ status: err === null ? 0 : typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

/** unshare's arguments that run file in a private mount namespace with fake over /proc/cpuinfo. */
function overCpuinfo(fake: string, file: string, args: readonly string[]): string[] {
  return [
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount --bind "$0" /proc/cpuinfo && exec "$@"',
    fake,
    file,
    ...args,
  ];
}

/** Why a file cannot be bind-mounted over /proc/cpuinfo in a mount namespace here, or undefined. */
export function cpuinfoMountMissing(workDir: string): string | undefined {
  const fake = join(workDir, 'cpuinfo-aarch64');
  writeFileSync(fake, jetsonCpuinfo());
  const probe = spawnSync('unshare', overCpuinfo(fake, 'grep', ['-q', '^CPU part.*0xd42', '/proc/cpuinfo']), {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (probe.status === 0) return undefined;
  return (
    'qemu-user before 8.1 hands aarch64 processes the host /proc/cpuinfo, on which onnxruntime crashes, and an ' +
    `aarch64 one cannot be bind-mounted over it here (unshare --mount needs root): ${probe.stderr.trim()}`
  );
}

/**
 * What the emulated node sees as /proc/cpuinfo decides: an ARM one (qemu 8.1 and later) is used as
 * is; the host's is covered, for emulated commands only, by `unshare --mount` with a private bind
 * mount of jetsonCpuinfo(), so the host's /proc stays as it was.
 */
export function emulation(node: string, workDir: string): Emulation {
  const seen = spawnSync(node, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/cpuinfo"))'], {
    encoding: 'utf8',
    env: emulatedEnv,
  });
  if (seen.status !== 0) throw new Error(`the emulated node does not run: ${seen.stderr}`);
  if (/^CPU implementer\s*:/m.test(seen.stdout))
    return {
      fakeCpuinfo: undefined,
      run: (file, args, o) => runAsync(file, args, o),
    };
  const fake = join(workDir, 'cpuinfo-aarch64');
  writeFileSync(fake, jetsonCpuinfo());
  return { fakeCpuinfo: fake, run: (file, args, o) => runAsync('unshare', overCpuinfo(fake, file, args), o) };
}
