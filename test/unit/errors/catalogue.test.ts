// One catalogue: every RIGCAP_ code the product raises or logs is in agent/errors.ts with a fix, and
// the verifier's codes are snapshotted beside it (renaming one breaks tools that match on it).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DriverErrorCode } from '../../../drivers/errors.ts';
import {
  RigcapError,
  asRigcapError,
  errorCatalogue,
  errorCodeOf,
  isErrno,
  spoolWriteCode,
  type ErrorCode,
} from '../../../agent/errors.ts';
import { DriverError } from '../../../drivers/errors.ts';
import { Ros2DriverError } from '../../../drivers/ros2/errors.ts';
import { verifyCodes } from '../../../agent/records/verify-codes.ts';
import { TransferError } from '../../../agent/sync/tus-client.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Environment variables that share the prefix; they are names, not error codes. */
const environmentNames = new Set([
  'RIGCAP_CONFIG',
  'RIGCAP_LOG_LEVEL',
  'RIGCAP_REEXEC_PARENT',
  'RIGCAP_HEAVY_TESTS',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every quoted `RIGCAP_…` string in the product and its scripts, with the files that hold it. */
function raisedCodes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const folder of ['agent', 'drivers', 'receiver', 'scripts', 'bin']) {
    for (const file of sourceFiles(join(root, folder))) {
      if (file === join(root, 'agent/errors.ts')) continue;
      for (const m of readFileSync(file, 'utf8').matchAll(/['"`](RIGCAP_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
        const code = m[1]!;
        if (environmentNames.has(code)) continue;
        found.set(code, [...(found.get(code) ?? []), relative(root, file)]);
      }
    }
  }
  return found;
}

describe('error catalogue', () => {
  it('holds every code raised or logged anywhere in agent/, drivers/, receiver/ and scripts/', () => {
    const raised = raisedCodes();
    // The scan itself finds codes (a broken regex would pass vacuously).
    expect(raised.get('RIGCAP_CONFIG_INVALID')).toBeDefined();
    expect(raised.get('RIGCAP_PIPELINE_STALLED')).toEqual(['agent/ops/watchdog.ts']);
    const missing = [...raised]
      .filter(([code]) => !(code in errorCatalogue))
      .map(([c, files]) => `${c} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('gives every code a fix that says what to do, and no two codes the same fix', () => {
    for (const [code, fix] of Object.entries(errorCatalogue)) {
      expect(code).toMatch(/^RIGCAP_[A-Z0-9_]+$/);
      expect(fix.length, code).toBeGreaterThan(20);
      expect(fix, code).not.toMatch(/TODO|TBD/);
    }
    const fixes = Object.values(errorCatalogue);
    expect(new Set(fixes).size).toBe(fixes.length);
  });

  it('keeps environment variable names out of the catalogue', () => {
    for (const name of environmentNames) expect(name in errorCatalogue).toBe(false);
  });

  it('lists the verifier codes, each with what it means', () => {
    for (const [code, meaning] of Object.entries(verifyCodes)) {
      expect(code).toMatch(/^VERIFY_[A-Z_]+$/);
      expect(meaning.length, code).toBeGreaterThan(20);
    }
    // Renaming or removing a verify code breaks tools that match on it: change this deliberately.
    expect(Object.keys(verifyCodes).sort()).toMatchSnapshot();
  });
});

describe('one error type, codes kept on the way up', () => {
  it("a driver's coded error becomes a RigcapError with the same code and fix", () => {
    const ros2 = new Ros2DriverError('RIGCAP_ROS2_ENV_MISSING', 'ROS_DISTRO is not set');
    expect(ros2).toBeInstanceOf(DriverError);
    const err = asRigcapError(ros2);
    expect(err.code).toBe('RIGCAP_ROS2_ENV_MISSING');
    expect(err.hint).toBe(errorCatalogue.RIGCAP_ROS2_ENV_MISSING);
    expect(err.cause).toBe(ros2);
    const open = asRigcapError(
      new DriverError('RIGCAP_DRIVER_OPEN_FAILED', 'no route', { details: { endpoint: 'x' } }),
    );
    expect(open.code).toBe('RIGCAP_DRIVER_OPEN_FAILED');
    expect(open.details).toEqual({ endpoint: 'x' });
  });

  it('an error without a catalogue code is a bug (RIGCAP_INTERNAL) unless the caller names the code', () => {
    expect(asRigcapError(new Error('boom')).code).toBe('RIGCAP_INTERNAL');
    expect(asRigcapError('text').message).toBe('text');
    expect(errorCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' }), 'RIGCAP_NOT_FOUND')).toBe(
      'RIGCAP_NOT_FOUND',
    );
    const same = new RigcapError('RIGCAP_USAGE', 'bad flag');
    expect(asRigcapError(same)).toBe(same);
  });

  it('a spool write that found no room is DISK_FULL; EIO and EROFS are the device, not space', () => {
    const sys = (code: string): Error => Object.assign(new Error(code), { code });
    for (const errno of ['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL'])
      expect(spoolWriteCode(sys(errno)), errno).toBe('RIGCAP_DISK_FULL');
    for (const errno of ['EIO', 'EROFS'])
      expect(spoolWriteCode(sys(errno)), errno).toBe('RIGCAP_SPOOL_IO_ERROR');
    expect(spoolWriteCode(sys('EACCES'), 'RIGCAP_SPOOL_UNWRITABLE')).toBe('RIGCAP_SPOOL_UNWRITABLE');
    expect(errorCatalogue.RIGCAP_SPOOL_IO_ERROR).toMatch(/device|mount/);
    expect(errorCatalogue.RIGCAP_SPOOL_IO_ERROR).not.toMatch(/free space/i);
  });

  it("a sync transfer failure is a RigcapError: the store's code, else unreachable or refused", () => {
    const missing = new TransferError('blob first', {
      retryable: false,
      status: 409,
      code: 'RIGCAP_RECEIVER_BLOB_MISSING',
    });
    expect(missing).toBeInstanceOf(RigcapError);
    expect(missing.code).toBe('RIGCAP_RECEIVER_BLOB_MISSING');
    expect(new TransferError('reset', { retryable: true }).code).toBe('RIGCAP_SYNC_UNREACHABLE');
    const odd = new TransferError('no', { retryable: false, status: 400, code: 'SOMETHING_ELSE' });
    expect(odd.code).toBe('RIGCAP_SYNC_REFUSED');
    expect(odd.details).toEqual({ status: 400, storeCode: 'SOMETHING_ELSE' });
  });

  it('isErrno narrows a catch to the errnos it expects', () => {
    const enoent = Object.assign(new Error('gone'), { code: 'ENOENT' });
    expect(isErrno(enoent, 'ENOENT')).toBe(true);
    expect(isErrno(enoent, 'EEXIST', 'ENOENT')).toBe(true);
    expect(isErrno(enoent, 'EACCES')).toBe(false);
    expect(isErrno(undefined, 'ENOENT')).toBe(false);
    expect(isErrno('ENOENT', 'ENOENT')).toBe(false);
  });

  it('every driver code is a catalogue code (checked by the type checker too)', () => {
    const driverCodes: DriverErrorCode[] = [
      'RIGCAP_DRIVER_UNKNOWN',
      'RIGCAP_DRIVER_UNAVAILABLE',
      'RIGCAP_DRIVER_OPEN_FAILED',
      'RIGCAP_MCAP_INVALID',
      'RIGCAP_FRAME_MALFORMED',
      'RIGCAP_ROS2_ENV_MISSING',
      'RIGCAP_ROS2_UNAVAILABLE',
      'RIGCAP_ROS2_INIT_FAILED',
      'RIGCAP_ROS2_GENERATED_READONLY',
    ];
    // Fails to compile when drivers/errors.ts gains a code the catalogue lacks.
    const asCatalogue: ErrorCode[] = driverCodes;
    for (const code of asCatalogue) expect(errorCatalogue[code].length).toBeGreaterThan(20);
  });
});
