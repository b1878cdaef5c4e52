// Helpers for the daemon's systemd contract: a stand-in NOTIFY_SOCKET (the python receiver that reads
// the sender's PID like systemd) and a loop-mounted ext4 spool that can be frozen to simulate a disk
// that stops answering. `rigcap run` itself is started with test/support/daemon.ts.
import { randomUUID } from 'node:crypto';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const repo = join(import.meta.dirname, '..', '..', '..');

/** python3, or undefined when it is not installed. */
export const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;

/** One datagram as systemd would see it. */
export interface Datagram {
  /** Sender PID from SCM_CREDENTIALS. */
  pid: number | null;
  message: string;
  /** Arrival time in the test (Date.now()). */
  atMs: number;
}

/** A bound notify socket and what it has received. */
export interface NotifyReceiver {
  readonly address: string;
  readonly datagrams: Datagram[];
  /** Waits (bounded) for a datagram matching `match` that arrives at index `from` or later. */
  waitFor(match: (d: Datagram) => boolean, timeoutMs: number, from?: number): Promise<Datagram>;
  /** Called synchronously for each datagram as it arrives (checks that must run "at that moment"). */
  onDatagram(listener: (d: Datagram) => void): void;
  /**
   * Sends a marker datagram of the test's own and resolves once it is read: the socket's queue is
   * first in, first out, so every datagram sent before this call has been read (and recorded) by then.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): void;
}

/** Binds a unix datagram socket at `address` through test/fixtures/ops/notify-receiver.py. */
export async function startNotifyReceiver(address: string): Promise<NotifyReceiver> {
  const proc: ChildProcessWithoutNullStreams = spawn(python as string, [
    join(repo, 'test/fixtures/ops/notify-receiver.py'),
    address,
  ]);
  const datagrams: Datagram[] = [];
  const listeners: Array<(d: Datagram) => void> = [];
  const markers = new Map<string, () => void>();
  const waiters = new Set<() => void>();
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let listening!: () => void;
  let failed!: (err: Error) => void;
  const bound = new Promise<void>((resolve, reject) => {
    listening = resolve;
    failed = reject;
  });
  proc.once('exit', (code) => failed(new Error(`notify receiver exited (${code}): ${stderr}`)));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as { pid: number | null; message: string; listening?: string };
    if (parsed.listening !== undefined) return listening();
    const marker = markers.get(parsed.message);
    if (marker !== undefined) return marker();
    const d: Datagram = { pid: parsed.pid, message: parsed.message, atMs: Date.now() };
    datagrams.push(d);
    for (const l of listeners) l(d);
    for (const w of [...waiters]) w();
  });
  await bound;
  return {
    address,
    datagrams,
    onDatagram: (l) => listeners.push(l),
    waitFor(match, timeoutMs, from = 0) {
      return new Promise<Datagram>((resolve, reject) => {
        const check = (): void => {
          const found = datagrams.slice(from).find(match);
          if (found === undefined) return;
          done();
          resolve(found);
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `no matching datagram within ${timeoutMs} ms; got ${JSON.stringify(datagrams.slice(-8).map((x) => x.message))}`,
            ),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    drain(timeoutMs) {
      const marker = `RIGCAP_TEST_DRAIN=${randomUUID()}`;
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          markers.delete(marker);
          reject(new Error(`the drain marker was not read within ${timeoutMs} ms`));
        }, timeoutMs);
        markers.set(marker, () => {
          clearTimeout(timer);
          markers.delete(marker);
          resolve();
        });
      });
      const sent = spawnSync(python as string, [
        '-c',
        'import socket, sys; a = sys.argv[1]; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(sys.argv[2].encode(), "\\0" + a[1:] if a.startswith("@") else a)',
        address,
        marker,
      ]);
      if (sent.status !== 0) throw new Error(`cannot send the drain marker: ${sent.stderr.toString()}`);
      return arrived;
    },
    close: () => {
      proc.kill();
    },
  };
}

/** An ext4 file system on a loop device that the test can freeze (fsfreeze) and thaw. */
export interface FreezableDisk {
  readonly mountPoint: string;
  freeze(): void;
  thaw(): void;
  /** Thaws (a frozen fs would keep the child in D state) and unmounts; idempotent. */
  dispose(): void;
}

/**
 * Mounts a fresh ext4 image under `dir`, or returns the reason it cannot (not root, no loop
 * devices, no mkfs.ext4/fsfreeze): the caller skips with that message.
 */
export function mountFreezableDisk(dir: string, sizeMiB: number): FreezableDisk | string {
  const image = join(dir, 'spool.ext4');
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint, { recursive: true });
  writeFileSync(image, '');
  const run = (cmd: string, args: string[]): string | null => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.error !== undefined) return `${cmd}: ${r.error.message}`;
    return r.status === 0 ? null : `${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`;
  };
  const problem =
    run('truncate', ['-s', `${sizeMiB}M`, image]) ??
    run('mkfs.ext4', ['-q', '-F', image]) ??
    run('mount', ['-o', 'loop', image, mountPoint]);
  if (problem !== null) {
    rmSync(image, { force: true });
    return problem;
  }
  let frozen = false;
  let mounted = true;
  const disk: FreezableDisk = {
    mountPoint,
    freeze() {
      const p = run('fsfreeze', ['-f', mountPoint]);
      if (p !== null) throw new Error(p);
      frozen = true;
    },
    thaw() {
      if (!frozen) return;
      const p = run('fsfreeze', ['-u', mountPoint]);
      if (p !== null) throw new Error(p);
      frozen = false;
    },
    dispose() {
      if (frozen) run('fsfreeze', ['-u', mountPoint]);
      frozen = false;
      if (mounted) run('umount', [mountPoint]);
      mounted = false;
      rmSync(image, { force: true });
    },
  };
  // Probe that this kernel freezes it (and thaws it) before a daemon depends on it.
  try {
    disk.freeze();
    disk.thaw();
  } catch (err) {
    disk.dispose();
    return String(err);
  }
  return disk;
}
