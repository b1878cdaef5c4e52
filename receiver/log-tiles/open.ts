// Where a receiver publishes its log's tiles, and the publisher on it: the fleet store's bucket
// (`--blobs s3://BUCKET[/PREFIX]` → PREFIX/log/…), else the store directory (DIR/log/tiles/…).
// With PostgreSQL, passes are serialised across receivers by an advisory lock.
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import type { Pool } from 'pg';
import type { Logger } from '../../agent/log.ts';
import { parseS3Url, s3ClientConfig } from '../backends/s3/location.ts';
import type { ReceiverState } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import { legacyEntryIndex } from './legacy-entries.ts';
import { pgPublishLock } from './pg-lock.ts';
import { TilePublisher } from './publisher.ts';
import { dirTileSink, s3TileSink, type TileSink } from './sinks.ts';

/** The tiles directory of an embedded store. */
export function tilesDirOf(dataDir: string): string {
  return join(dataDir, 'log', 'tiles');
}

export interface TilePublishing {
  sink: TileSink;
  publisher: TilePublisher;
  /** Stops the publisher (after a pass in progress) and closes the sink. */
  close(): Promise<void>;
}

/** Opens the sink and starts the publisher (its first pass catches up at once). */
export function startTilePublishing(o: {
  state: ReceiverState;
  key: StoreKey;
  log: Logger;
  dataDir?: string;
  objectStore?: { url: string; endpoint?: string };
  pool?: Pool;
  intervalMs?: number;
}): TilePublishing {
  const log = o.log;
  let sink: TileSink;
  if (o.objectStore !== undefined) {
    const { url, endpoint } = o.objectStore;
    const client = new S3Client(s3ClientConfig(endpoint === undefined ? {} : { endpoint }));
    sink = s3TileSink(client, parseS3Url(url));
  } else if (o.dataDir !== undefined) {
    sink = dirTileSink(tilesDirOf(o.dataDir));
  } else {
    throw new RangeError('tiles are published to a bucket or a store directory');
  }
  const storeRecords = o.dataDir === undefined ? undefined : join(o.dataDir, 'records', o.key.storeId);
  const publisher = new TilePublisher({
    state: o.state,
    key: o.key,
    sink,
    log,
    legacyEntries: () => legacyEntryIndex(o.state, storeRecords),
    ...(o.pool === undefined ? {} : { lock: pgPublishLock(o.pool, log) }),
    ...(o.intervalMs === undefined ? {} : { intervalMs: o.intervalMs }),
  });
  publisher.start();
  log.info({ where: sink.where }, 'publishing the log as tlog-tiles');
  return {
    sink,
    publisher,
    close: async () => {
      await publisher.stop();
      sink.close?.();
    },
  };
}
