// Where the store's published tlog-tiles live: a directory (the embedded store's DIR/log/tiles) or
// an S3 prefix (the fleet store's PREFIX/log/). Both are read back by the receiver's /log/ route
// and can be served as they are by any static server or CDN.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isS3NotFound, type S3Location } from '../backends/s3/location.ts';

/** How a published file may be cached: a full tile never changes, a partial one or the checkpoint may. */
export interface TileFileKind {
  contentType: string;
  cacheControl: string;
}

/** A place tiles are written to and read back from, by C2SP path (`checkpoint`, `tile/…`). */
export interface TileSink {
  /** For logs: `dir:/…` or `s3://bucket/prefix`. */
  readonly where: string;
  read(path: string): Promise<Uint8Array | undefined>;
  write(path: string, bytes: Uint8Array): Promise<void>;
  close?(): void;
}

const fullTile = /^tile\/(?:entries|[0-9]+)\/(?:x[0-9]{3}\/)*[0-9]{3}$/;
const partialTile = /^tile\/(?:entries|[0-9]+)\/(?:x[0-9]{3}\/)*[0-9]{3}\.p\/[0-9]{1,3}$/;

/** True for `checkpoint` and the tile and entry-bundle paths C2SP tlog-tiles names. */
export function isTilePath(path: string): boolean {
  return path === 'checkpoint' || fullTile.test(path) || partialTile.test(path);
}

/** Content type and cache policy of one published path. */
export function tileFileKind(path: string): TileFileKind {
  if (path === 'checkpoint') return { contentType: 'text/plain; charset=utf-8', cacheControl: 'no-cache' };
  return {
    contentType: 'application/octet-stream',
    cacheControl: fullTile.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
}

/** Tiles in a directory; each file is written to a temp name and renamed into place. */
export function dirTileSink(dir: string): TileSink {
  return {
    where: `dir:${dir}`,
    async read(path) {
      try {
        return await readFile(join(dir, path));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(path, bytes) {
      const file = join(dir, path);
      await mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    },
  };
}

/** Tiles under `location.prefix` + `log/` in a bucket, with the content type and cache policy set. */
export function s3TileSink(client: S3Client, location: S3Location): TileSink {
  const keyOf = (path: string): string => `${location.prefix}log/${path}`;
  return {
    where: `s3://${location.bucket}/${location.prefix}log/`,
    async read(path) {
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key: keyOf(path) }));
        return out.Body === undefined ? undefined : await out.Body.transformToByteArray();
      } catch (err) {
        if (isS3NotFound(err)) return undefined;
        throw err;
      }
    },
    async write(path, bytes) {
      const kind = tileFileKind(path);
      await client.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: keyOf(path),
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: kind.contentType,
          CacheControl: kind.cacheControl,
        }),
      );
    },
    close: () => client.destroy(),
  };
}
