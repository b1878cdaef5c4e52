// The shaped link the sync bench measures over: loopback in a private network namespace, traffic
// to the receiver's port through a token bucket (tc htb + tbf) at the link rate, with an Ethernet MTU.
import { spawnSync } from 'node:child_process';

/** Runs a command; throws with its stderr when it fails. */
export function run(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message) ?? ''}`.trim());
}

/** Shapes loopback towards `port` with tbf (everything else on loopback stays unshaped). */
export function shapeLoopback(port: number, rateBitsPerSec: number): void {
  const rate = `${Math.round(rateBitsPerSec / 1000)}kbit`;
  // An Ethernet MTU, so the bucket sees packets a real link carries (not 64 KiB loopback frames).
  run('ip', ['link', 'set', 'lo', 'mtu', '1500']);
  run('tc', ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb', 'default', '20']);
  for (const id of ['1:10', '1:20'])
    run('tc', ['class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', id, 'htb', 'rate', '10gbit']);
  run('tc', [
    'qdisc',
    'add',
    'dev',
    'lo',
    'parent',
    '1:10',
    'handle',
    '10:',
    'tbf',
    'rate',
    rate,
    'burst',
    '16kb',
    'latency',
    '200ms',
  ]);
  run('tc', [
    'filter',
    'add',
    'dev',
    'lo',
    'parent',
    '1:',
    'protocol',
    'ip',
    'prio',
    '1',
    'u32',
    'match',
    'ip',
    'dport',
    String(port),
    '0xffff',
    'flowid',
    '1:10',
  ]);
}

/** Bytes the link's token bucket has sent, or null when tc does not say. */
export function shapedBytes(): number | null {
  const r = spawnSync('tc', ['-s', 'qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' });
  const m = /qdisc tbf 10:[^\n]*\n\s*Sent (\d+) bytes/.exec(r.stdout ?? '');
  return m === null ? null : Number(m[1]);
}

/** Why the shaped link cannot be made here, or undefined when it can (tools looked up on `env.PATH`). */
export function shapedLinkUnavailable(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const tool of ['unshare', 'tc', 'ip']) {
    const r = spawnSync(tool, ['-V'], { encoding: 'utf8', env });
    if (r.error !== undefined)
      return `${tool} is not installed (Debian: ${tool === 'unshare' ? 'util-linux' : 'iproute2'})`;
  }
  const probe = spawnSync(
    'unshare',
    [
      ...unshareArgs(),
      'sh',
      '-c',
      [
        'ip link set lo up',
        'tc qdisc add dev lo root handle 1: htb default 20',
        'tc class add dev lo parent 1: classid 1:10 htb rate 10gbit',
        'tc qdisc add dev lo parent 1:10 handle 10: tbf rate 1mbit burst 16kb latency 100ms',
        'tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport 9 0xffff flowid 1:10',
      ].join(' && '),
    ],
    { encoding: 'utf8', env },
  );
  if (probe.status !== 0)
    return `cannot make a shaped link in a private network namespace (needs root or user namespaces, and the htb and tbf qdiscs): ${(probe.stderr ?? '').trim()}`;
  return undefined;
}

/** `unshare -n` as root; as another user, a user namespace that maps it to root as well. */
export function unshareArgs(): string[] {
  return process.getuid?.() === 0 ? ['-n'] : ['-r', '-n'];
}
