// `rigcap store hold|release-hold --session S` and `rigcap store expire [--now ISO]`: legal holds
// and the retention expiry pass on a central store, each a signed retention-action record in the
// store's chain (README "Store retention").
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO } from './command.ts';
import { parseDbUrl } from './receiver.ts';
import type { RetentionDeps } from '../../receiver/retention/store-retention.ts';

export const retentionUsage = `usage: rigcap store hold --session S (--data DIR | --db URL --key FILE) [--note TEXT] [--json]
       rigcap store release-hold --session S (--data DIR | --db URL --key FILE) [--note TEXT] [--json]
       rigcap store expire --data DIR --policy FILE [--now ISO-8601] [--json]

  hold           places a legal hold on session S: expiry keeps its chunks until it is released
  release-hold   releases it (the session expires at the next pass if it is past its retention)
  expire         deletes every chunk past its retention under the policy file (per purpose and
                 site, README "Store retention") whose session is not held; each deletion is a
                 signed retention-action record, so \`rigcap verify DIR\` still passes after
  --key FILE     the store key (default DIR.secrets/store.key); it must exist
  --now ISO      the time the pass runs at (default now)

exit: 0 done, 2 usage error`;

async function openDeps(
  values: { data?: string | undefined; db?: string | undefined; key?: string | undefined },
  io: CliIO,
): Promise<RetentionDeps & { close(): Promise<void> }> {
  const dataDir = values.data === undefined ? undefined : resolve(io.cwd, values.data);
  if (dataDir === undefined && values.db === undefined) throw new RigcapError('RIGCAP_USAGE', retentionUsage);
  const { defaultStoreKeyPath, loadOrCreateStoreKey } = await import('../../receiver/store-key.ts');
  const keyFile =
    values.key !== undefined
      ? resolve(io.cwd, values.key)
      : dataDir === undefined
        ? undefined
        : defaultStoreKeyPath(dataDir);
  if (keyFile === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap store: with --db, --key FILE is required');
  try {
    await access(keyFile);
  } catch (err) {
    throw new RigcapError('RIGCAP_USAGE', `rigcap store: no store key at ${keyFile}`, { cause: err });
  }
  const key = await loadOrCreateStoreKey({ keyFile, ...(dataDir === undefined ? {} : { dataDir }) });
  const log = createLogger({ fd: 2, json: true, level: io.env['RIGCAP_LOG_LEVEL'] ?? 'warn' });
  const { openReceiverState } = await import('../../receiver/state/open.ts');
  const { state } = await openReceiverState({
    log,
    ...(values.db === undefined ? {} : { db: { url: parseDbUrl(values.db) } }),
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  if (dataDir === undefined) return { state, key, close: () => state.close() };
  const { StoreLayout } = await import('../../receiver/layout.ts');
  const { FileBlobStore } = await import('../../receiver/blob-store.ts');
  const blobs = new FileBlobStore({ root: dataDir, incomingDir: resolve(dataDir, 'incoming') });
  const { rm } = await import('node:fs/promises');
  return {
    state,
    key,
    layout: new StoreLayout(dataDir),
    deleteBlob: (sha256) => rm(blobs.blobPath(sha256), { force: true }),
    close: () => state.close(),
  };
}

const flags = {
  data: { type: 'string' },
  db: { type: 'string' },
  key: { type: 'string' },
  session: { type: 'string' },
  note: { type: 'string' },
  policy: { type: 'string' },
  now: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs `rigcap store hold|release-hold|expire` (argv after the subcommand). */
export async function runRetention(
  sub: 'hold' | 'release-hold' | 'expire',
  argv: readonly string[],
  io: CliIO,
): Promise<number> {
  const { values } = parseFlags(`store ${sub}`, argv, flags);
  const { expireStore, setLegalHold } = await import('../../receiver/retention/store-retention.ts');
  if (sub !== 'expire') {
    const sessionId = values.session;
    if (sessionId === undefined) throw new RigcapError('RIGCAP_USAGE', retentionUsage);
    const deps = await openDeps(values, io);
    try {
      const seq = await setLegalHold(deps, {
        sessionId,
        hold: sub === 'hold',
        ...(values.note === undefined ? {} : { note: values.note }),
      });
      if (values.json === true)
        writeJson(io.stdout, { ok: true, session: sessionId, held: sub === 'hold', seq });
      else io.stdout.write(`${sub === 'hold' ? 'held' : 'released'} ${sessionId} (store record ${seq})\n`);
      return ExitCode.ok;
    } finally {
      await deps.close();
    }
  }
  if (values.data === undefined || values.policy === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap store expire: --data DIR and --policy FILE are required');
  const nowMs = values.now === undefined ? Date.now() : Date.parse(values.now);
  if (!Number.isFinite(nowMs))
    throw new RigcapError('RIGCAP_USAGE', `rigcap store expire: --now ${values.now}: not an ISO-8601 time`);
  const { loadRetentionPolicy } = await import('../../receiver/retention/policy.ts');
  const policy = await loadRetentionPolicy(resolve(io.cwd, values.policy));
  const deps = await openDeps(values, io);
  try {
    const result = await expireStore(deps, policy, BigInt(nowMs) * 1_000_000n);
    if (values.json === true) writeJson(io.stdout, { ok: true, ...result });
    else
      io.stdout.write(
        `expired ${result.deleted.length} chunks (${result.records.length} retention-action records), kept ${result.held.length} past retention under a hold\n`,
      );
    return ExitCode.ok;
  } finally {
    await deps.close();
  }
}
