// Where the fleet store keeps its objects: `s3://BUCKET[/prefix]` plus the client settings every
// S3-compatible engine accepts (AWS, MinIO, Ceph RGW). Credentials are never part of the location:
// the SDK reads them from the AWS environment variables and credential/config files.
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { RigcapError } from '../../../agent/errors.ts';

/** A parsed `s3://BUCKET[/prefix]` URL. `prefix` is empty or ends with `/`. */
export interface S3Location {
  bucket: string;
  prefix: string;
}

// S3 bucket naming rules (3–63 chars, lowercase letters, digits, dots, hyphens).
const bucketPattern = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const prefixSegment = /^[A-Za-z0-9._-]+$/;

/** Parses `s3://BUCKET[/prefix]`; a prefix is made of plain path segments (no `..`, no empty ones). */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  const bucket = match?.[1];
  if (match === null || bucket === undefined || !bucketPattern.test(bucket)) {
    throw new RigcapError('RIGCAP_USAGE', `not an s3://BUCKET[/prefix] URL: ${url}`);
  }
  const rawPrefix = (match[2] ?? '').replace(/\/+$/, '');
  if (rawPrefix === '') return { bucket, prefix: '' };
  const segments = rawPrefix.split('/');
  for (const segment of segments) {
    if (!prefixSegment.test(segment) || segment === '.' || segment === '..') {
      throw new RigcapError('RIGCAP_USAGE', `bad prefix segment ${JSON.stringify(segment)} in ${url}`);
    }
  }
  return { bucket, prefix: `${segments.join('/')}/` };
}

/** How buckets are addressed: `path` (endpoint/BUCKET/key) or `virtual` (BUCKET.endpoint/key). */
export type S3Addressing = 'path' | 'virtual';

/**
 * Client settings for the store. Without an endpoint the SDK's AWS defaults apply (virtual-host).
 * With one (MinIO, RGW, a private gateway) path-style is the default, since those rarely have
 * wildcard DNS for buckets. Checksums only when an operation requires them: RGW 16 refuses the
 * SDK's default aws-chunked streaming bodies with a CRC32 trailer (411 MissingContentLength).
 */
export function s3ClientConfig(o: { endpoint?: string; addressing?: S3Addressing }): S3ClientConfig {
  const config: S3ClientConfig = {
    region: process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
    forcePathStyle: (o.addressing ?? (o.endpoint === undefined ? 'virtual' : 'path')) === 'path',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (o.endpoint !== undefined) config.endpoint = o.endpoint;
  return config;
}

/** True for an S3 "no such key/bucket/upload" answer. */
export function isS3NotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e.$metadata?.httpStatusCode === 404 ||
    e.name === 'NotFound' ||
    e.name === 'NoSuchKey' ||
    e.name === 'NoSuchUpload' ||
    e.Code === 'NoSuchKey'
  );
}
