#!/usr/bin/env node
// Entry point. rigcap targets Node 22: under another Node (e.g. a system Node 20) it re-runs itself
// with the Node 22 that the `node` npm package installs, forwarding signals and the exit status;
// that child ends when the wrapper does, however it ends.
import { spawn } from 'node:child_process';
import { node22Path, requiredMajor } from '../scripts/node22.js';

// libuv's thread pool runs every fs write and fsync, zstd and the de-id workers' sharp calls. At
// its default of 4 threads, image work made chunk writes and fsyncs queue behind it; 16 threads
// cost only stack memory. Read once, when the pool is first used: set before anything uses it.
process.env.UV_THREADPOOL_SIZE ??= '16';

const major = Number(process.versions.node.split('.')[0]);
if (major !== requiredMajor) {
  const node = node22Path();
  if (node === null) {
    process.stderr.write(
      `RIGCAP_NODE_VERSION: rigcap needs Node ${requiredMajor}, this is ${process.version}\n` +
        '  fix: run `npm ci` in the rigcap folder (it installs Node 22 from the npm registry), or install Node 22 LTS.\n',
    );
    process.exit(2);
  }
  // The child follows this wrapper's death (agent/ops/parent-watch.ts): a `kill -9` that hits only
  // the wrapper must not leave the real process running with the spool.
  const child = spawn(node, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, RIGCAP_REEXEC_PARENT: String(process.pid) },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']) {
    process.on(sig, () => child.kill(sig));
  }
  child.on('exit', (code, signal) => {
    if (signal !== null) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  const { runCli } = await import('../agent/entry.ts');
  await runCli();
}
