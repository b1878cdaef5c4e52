// Config migrations: each entry lifts a raw config from version N to N+1. A config file written for
// an older rigcap keeps loading; the loader reports which migrations ran.
import { RigcapError } from '../errors.ts';

export const currentConfigVersion = 1;

/** A migration from `from` to `from + 1`, on the raw (pre-validation) object. */
export interface ConfigMigration {
  from: number;
  describe: string;
  migrate(raw: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Version 0 was the pre-release layout: a flat `rigId` and `spoolDir`, and `chunkMaxBytes`.
 * Kept so the hook is exercised by a real migration and early field configs still load.
 */
export const migrations: readonly ConfigMigration[] = [
  {
    from: 0,
    describe: 'v0 → v1: rigId/spoolDir/chunkMaxBytes moved under rig/spool/chunking',
    migrate(raw) {
      const { rigId, spoolDir, chunkMaxBytes, ...rest } = raw;
      const rig = { ...(rest['rig'] as object | undefined), ...(rigId === undefined ? {} : { id: rigId }) };
      const spool = {
        ...(rest['spool'] as object | undefined),
        ...(spoolDir === undefined ? {} : { dir: spoolDir }),
      };
      const chunking = {
        ...(rest['chunking'] as object | undefined),
        ...(chunkMaxBytes === undefined ? {} : { maxBytes: chunkMaxBytes }),
      };
      return { ...rest, version: 1, rig, spool, chunking };
    },
  },
];

/** Applies migrations until the config is at the current version; returns what ran. */
export function migrateConfig(
  raw: Record<string, unknown>,
  list: readonly ConfigMigration[] = migrations,
): { config: Record<string, unknown>; applied: string[] } {
  const version = raw['version'];
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new RigcapError(
      'RIGCAP_CONFIG_VERSION',
      `config has no integer \`version\` (current is ${currentConfigVersion})`,
    );
  }
  if (version > currentConfigVersion) {
    throw new RigcapError(
      'RIGCAP_CONFIG_VERSION',
      `config version ${version} is newer than this rigcap supports (${currentConfigVersion}); upgrade rigcap`,
    );
  }
  let config = raw;
  const applied: string[] = [];
  for (let v = version; v < currentConfigVersion; v += 1) {
    const step = list.find((m) => m.from === v);
    if (step === undefined)
      throw new RigcapError('RIGCAP_CONFIG_VERSION', `no migration from config version ${v}`);
    config = step.migrate(config);
    applied.push(step.describe);
  }
  return { config, applied };
}
