// Starts real chronyd and ptp4l instances for the time-sync integration tests, each private to a
// temp dir (own sockets, pid and drift files) and never allowed to adjust the system clock.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

function hasCommand(name: string): boolean {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    try {
      execFileSync(join(dir, name), ['-v'], { stdio: 'ignore', timeout: 5000 });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') return true;
    }
  }
  return false;
}

/** Makes `command` available: installs the Debian package when root and missing, else says why not. */
export function ensureCommand(command: string, debianPackage: string): string | undefined {
  if (hasCommand(command)) return undefined;
  if (!isRoot) return `${command} missing and not root: apt-get install ${debianPackage} to run this test`;
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', debianPackage], {
      stdio: 'ignore',
      timeout: 300_000,
    });
  } catch {
    return `${command} missing and apt-get install ${debianPackage} failed`;
  }
  return hasCommand(command) ? undefined : `${command} still missing after installing ${debianPackage}`;
}

/** A private temp dir chronyd accepts for its command socket (mode 0700, owned by the runner). */
export function privateDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Daemon {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function run(file: string, args: string[]): Daemon {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.resume();
  return {
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** chronyd in the foreground with clock control off (-x), as root so it keeps its socket in `dir`. */
export function startChronyd(dir: string, name: string, lines: string[]): { daemon: Daemon; socket: string } {
  const socket = join(dir, `${name}.sock`);
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      ...lines,
      'cmdport 0',
      `bindcmdaddress ${socket}`,
      `pidfile ${join(dir, `${name}.pid`)}`,
      `driftfile ${join(dir, `${name}.drift`)}`,
      '',
    ].join('\n'),
  );
  const args = ['-d', '-x', '-f', conf, ...(isRoot ? ['-u', 'root'] : [])];
  return { daemon: run('chronyd', args), socket };
}

/** Creates two network namespaces joined by a veth pair; undefined when the machine forbids it. */
export function vethPair(
  tag: string,
): { master: string; slave: string; masterIf: string; slaveIf: string; remove(): void } | undefined {
  const master = `rcm${tag}`;
  const slave = `rcs${tag}`;
  const masterIf = `rv${tag}a`;
  const slaveIf = `rv${tag}b`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
  };
  const remove = (): void => {
    for (const ns of [master, slave]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip('netns', 'add', master);
    ip('netns', 'add', slave);
    ip('link', 'add', masterIf, 'type', 'veth', 'peer', 'name', slaveIf);
    ip('link', 'set', masterIf, 'netns', master);
    ip('link', 'set', slaveIf, 'netns', slave);
    for (const [ns, dev] of [
      [master, masterIf],
      [slave, slaveIf],
    ] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    return { master, slave, masterIf, slaveIf, remove };
  } catch {
    remove();
    return undefined;
  }
}

/**
 * ptp4l with software timestamps over layer 2 inside a namespace. free_running keeps it from ever
 * adjusting CLOCK_REALTIME (namespaces share it), so a slave reaches UNCALIBRATED but never SLAVE.
 */
export function startPtp4l(options: {
  netns: string;
  iface: string;
  dir: string;
  name: string;
  role: 'master' | 'slave';
}): { daemon: Daemon; uds: string } {
  const uds = join(options.dir, `${options.name}.uds`);
  const conf = join(options.dir, `${options.name}.cfg`);
  writeFileSync(
    conf,
    [
      '[global]',
      'free_running 1',
      `uds_address ${uds}`,
      'logSyncInterval -2',
      'logAnnounceInterval -1',
      'announceReceiptTimeout 3',
      options.role === 'master' ? 'priority1 10' : 'slaveOnly 1',
      '',
    ].join('\n'),
  );
  return {
    daemon: run('ip', ['netns', 'exec', options.netns, 'ptp4l', '-2', '-S', '-f', conf, '-i', options.iface]),
    uds,
  };
}
