// The receiver's retention expiry on a timer (`rigcap receiver --retention-policy F`): one pass at
// start and then every interval; a pass that fails is logged and tried again at the next tick.
import { rm } from 'node:fs/promises';
import { RigcapError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import { FileBlobStore, type BlobStore } from '../blob-store.ts';
import type { StoreLayout } from '../layout.ts';
import type { ReceiverState } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import { loadRetentionPolicy } from './policy.ts';
import { expireStore } from './store-retention.ts';

/** A running expiry timer. */
export interface ExpiryTimer {
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/** Loads the policy file and starts expiring; needs the store's files and blobs on local disk. */
export async function startExpiryTimer(options: {
  policyFile: string;
  state: ReceiverState;
  key: StoreKey;
  layout: StoreLayout | undefined;
  blobs: BlobStore;
  log: Logger;
  intervalMs?: number;
}): Promise<ExpiryTimer> {
  const { state, key, layout, blobs, log } = options;
  if (layout === undefined || !(blobs instanceof FileBlobStore))
    throw new RigcapError(
      'RIGCAP_USAGE',
      'rigcap receiver --retention-policy: expiry deletes files, so it needs --data DIR with the blobs there (not --blobs s3://)',
    );
  const policy = await loadRetentionPolicy(options.policyFile);
  const deps = {
    state,
    key,
    layout,
    deleteBlob: (sha256: string) => rm(blobs.blobPath(sha256), { force: true }),
  };
  let running: Promise<void> = Promise.resolve();
  const pass = (): void => {
    running = running.then(async () => {
      try {
        const result = await expireStore(deps, policy, BigInt(Date.now()) * 1_000_000n);
        if (result.deleted.length > 0 || result.held.length > 0)
          log.info(
            { deleted: result.deleted.length, held: result.held.length, records: result.records },
            'retention expiry',
          );
      } catch (err) {
        log.error({ err }, 'retention expiry failed; tried again at the next interval');
      }
    });
  };
  pass();
  const timer = setInterval(pass, options.intervalMs ?? 3_600_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
