// Opens the fleet store's object backends: blobs and tus uploads in one S3 bucket (any
// S3-compatible endpoint), plus a tus Locker on PostgreSQL when a pool is given, so several
// receiver instances can serve the same uploads. Credentials come from the AWS environment
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials, ...), never from argv.
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { DataStore, Locker } from '@tus/server';
import type { Pool } from 'pg';
import { RigcapError } from '../../../agent/errors.ts';
import type { Logger } from '../../../agent/log.ts';
import type { BlobStore } from '../../blob-store.ts';
import { PgLocker } from '../pg-locker.ts';
import { S3BlobStore } from './blob-store.ts';
import { parseS3Url, s3ClientConfig, type S3Addressing } from './location.ts';
import { S3UploadStore } from './upload-store.ts';

export interface S3BackendsOptions {
  /** `s3://BUCKET[/prefix]` */
  url: string;
  /** S3 endpoint (MinIO, Ceph RGW, ...); default AWS. */
  endpoint?: string;
  /** Default: `path` with an endpoint, `virtual` without. */
  addressing?: S3Addressing;
  log: Logger;
  pg?: Pool;
}

export interface S3Backends {
  blobs: BlobStore;
  datastore: DataStore;
  locker?: Locker;
  close(): Promise<void>;
}

/** Opens the bucket (checking it is reachable with the credentials at hand) and the ports on it. */
export async function openS3Backends(o: S3BackendsOptions): Promise<S3Backends> {
  const location = parseS3Url(o.url);
  const clientConfig = s3ClientConfig({
    ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    ...(o.addressing === undefined ? {} : { addressing: o.addressing }),
  });
  const client = new S3Client(clientConfig);
  try {
    await client.send(new HeadBucketCommand({ Bucket: location.bucket }));
  } catch (err) {
    client.destroy();
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    throw new RigcapError(
      'RIGCAP_STORE_BACKEND_UNAVAILABLE',
      `bucket ${location.bucket} at ${o.endpoint ?? 'AWS S3'} is not usable${status === undefined ? '' : ` (HTTP ${status})`}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const blobs = new S3BlobStore({ client, location });
  const datastore = new S3UploadStore({ location, clientConfig });
  const locker = o.pg === undefined ? undefined : new PgLocker({ pool: o.pg, log: o.log });
  o.log.info(
    { bucket: location.bucket, prefix: location.prefix, endpoint: o.endpoint, locker: locker !== undefined },
    'object store opened',
  );
  return {
    blobs,
    datastore,
    ...(locker === undefined ? {} : { locker }),
    close: async () => {
      await locker?.close();
      client.destroy();
    },
  };
}
