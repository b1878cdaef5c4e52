// `rigcap sync [--once] [--config FILE] [--json]`: drain the spool's backlog to the store.
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import { defaultConfig } from './ops-url.ts';

const usage = `usage: rigcap sync [--once] [--config FILE] [--json]

Uploads every chunk and record in the spool that the store has not acknowledged, resuming
interrupted uploads from the store's offset, and checks each custody receipt and the store log.

  --once          drain the backlog, then exit (default: keep syncing until SIGINT/SIGTERM)
  --config FILE   rigcap config (default /etc/rigcap/rigcap.yaml)
  --json          print { ok, synced, refused, backlog } on stdout

exit: 0 backlog empty, 1 items refused or left pending, 2 usage or config error`;

const command: Command = {
  name: 'sync',
  summary: 'upload the spool backlog to the store (resumable; --once drains and exits)',
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { values } = parseFlags('sync', argv, {
      once: { type: 'boolean' },
      config: { type: 'string' },
      json: { type: 'boolean' },
    });
    const { loadConfigFile } = await import('../config/load.ts');
    const loaded = loadConfigFile(resolve(io.cwd, values.config ?? defaultConfig));
    const config = loaded.config;
    if (config.sync.storeUrl === '') throw new RigcapError('RIGCAP_CONFIG_INVALID', 'sync.storeUrl is empty');
    const log = createLogger({ fd: 2, json: values.json === true });
    const { openSyncService } = await import('../sync/sync-service.ts');
    const priorities = new Map(config.streams.map((s) => [s.topic, s.priority]));
    const service = openSyncService({
      sync: config.sync,
      spoolDir: config.spool.dir,
      log,
      streamPriority: (t) => priorities.get(t),
    });
    const bar = progressBar(io.stderr);
    let total = 0;
    try {
      if (values.once === true) {
        await service.scheduler.scan();
        total = service.backlog().bytes;
        const result = await service.scheduler.drain({
          signal: io.signal,
          onProgress: (b) => bar.update(total - b.bytes, total, b.chunks),
        });
        bar.end();
        const backlog = service.backlog();
        const ok = result.empty && backlog.refused === 0;
        if (values.json === true)
          writeJson(io.stdout, { ok, synced: result.synced, refused: backlog.refused, backlog });
        else
          io.stderr.write(
            `synced ${result.synced} records; ${backlog.chunks} chunks (${backlog.bytes} bytes) pending, ${backlog.refused} refused\n`,
          );
        return ok ? ExitCode.ok : ExitCode.failed;
      }
      service.scheduler.start({ intervalMs: 5000 });
      await new Promise<void>((done) => {
        if (io.signal.aborted) done();
        io.signal.addEventListener('abort', () => done(), { once: true });
      });
      return ExitCode.ok;
    } finally {
      await service.close();
    }
  },
};

/** A one-line progress bar on a TTY; silent elsewhere. */
function progressBar(stream: CliIO['stderr']): {
  update(done: number, total: number, chunks: number): void;
  end(): void;
} {
  if (stream.isTTY !== true) return { update: () => undefined, end: () => undefined };
  let drawn = false;
  return {
    update(done, total, chunks) {
      drawn = true;
      const pct = total === 0 ? 100 : Math.min(100, Math.floor((done / total) * 100));
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stream.write(
        `\rsyncing [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% (${chunks} chunks left)`,
      );
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}

export default command;
