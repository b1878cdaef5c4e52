// sd_notify against a real unix datagram socket (path and abstract), with the sender's PID checked
// the way systemd checks it for NotifyAccess=main.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSdNotify } from '../../../scripts/build-sd-notify.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;
const dir = mkdtempSync(join(tmpdir(), 'rigcap-notify-'));

interface Datagram {
  pid: number | null;
  message: string;
}

/** Starts the receiver, runs the child against it, returns every datagram and the child's pid. */
async function lifecycle(
  address: string,
): Promise<{ datagrams: Datagram[]; childPid: number; code: number | null; stderr: string }> {
  const receiver: ChildProcessWithoutNullStreams = spawn(python as string, [
    join(repo, 'test/fixtures/ops/notify-receiver.py'),
    address,
  ]);
  const lines = createInterface({ input: receiver.stdout });
  const datagrams: Datagram[] = [];
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  lines.on('line', (line) => {
    const parsed = JSON.parse(line) as Datagram & { listening?: string };
    if (parsed.listening !== undefined) return listening();
    datagrams.push(parsed);
    if (parsed.message.includes('STOPPING=1')) stopped();
  });
  await ready;
  const child = spawn(process.execPath, [join(repo, 'test/fixtures/ops/notify-child.ts')], {
    env: { ...process.env, NOTIFY_SOCKET: address, WATCHDOG_USEC: '100000' },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code === 0) await done;
  receiver.kill();
  return { datagrams, childPid: child.pid as number, code, stderr };
}

describe.skipIf(python === undefined)('sd_notify to a real NOTIFY_SOCKET', () => {
  beforeAll(() => {
    const problem = buildSdNotify();
    if (problem !== null) throw new Error(`cannot build the sd_notify addon (needs gcc): ${problem}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [kind, address] of [
    ['path', join(dir, 'notify.sock')],
    ['abstract', `@rigcap-test-${process.pid}`],
  ] as const) {
    it(`delivers READY, STATUS, WATCHDOG and STOPPING from the main process (${kind} socket)`, async () => {
      const { datagrams, childPid, code, stderr } = await lifecycle(address);
      expect(code, stderr).toBe(0);
      const messages = datagrams.map((d) => d.message);
      expect(messages[0]).toBe('READY=1\nSTATUS=capturing 1 stream');
      expect(messages.at(-1)).toBe('STOPPING=1\nSTATUS=sealing open chunk');
      expect(messages.filter((m) => m === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(3);
      // Every datagram came from the child itself: what NotifyAccess=main requires.
      expect(new Set(datagrams.map((d) => d.pid))).toEqual(new Set([childPid]));
      // A stuck writer starves the watchdog.
      const stuckAt = messages.indexOf('STATUS=writer stuck');
      expect(stuckAt).toBeGreaterThan(0);
      expect(messages.slice(stuckAt)).not.toContain('WATCHDOG=1');
      expect(messages).toContain('STATUS=pings while stuck: 0');
    });
  }
});

if (python === undefined) {
  it.skip('sd_notify: python3 is not installed (apt-get install python3), so no notify socket receiver');
}
