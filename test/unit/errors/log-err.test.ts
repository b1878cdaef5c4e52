// Logs carry errors as `{ err }`: the line keeps the stack, the stable code and the errno behind it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RigcapError } from '../../../agent/errors.ts';
import { createLogger } from '../../../agent/log.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('logged errors', () => {
  it('keep the stack, the code, the fix and the errno that caused them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rigcap-log-'));
    dirs.push(dir);
    const file = join(dir, 'log.jsonl');
    const log = createLogger({ file, level: 'info' });
    const errno = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5 });
    const err = new RigcapError('RIGCAP_SPOOL_IO_ERROR', 'cannot write chunk-000001.mcap.partial: EIO', {
      cause: errno,
    });
    log.child({ component: 'pipeline' }).error({ err, stream: 'front_camera' }, 'write failed');
    const line = JSON.parse(readFileSync(file, 'utf8').trim()) as {
      err: {
        type: string;
        message: string;
        stack: string;
        code: string;
        hint: string;
        cause?: { code: string };
      };
      stream: string;
    };
    expect(line.stream).toBe('front_camera');
    expect(line.err.type).toBe('RigcapError');
    expect(line.err.code).toBe('RIGCAP_SPOOL_IO_ERROR');
    expect(line.err.hint).toContain('dmesg');
    expect(line.err.stack).toContain('log-err.test.ts');
    expect(line.err.message).toContain('cannot write chunk-000001.mcap.partial');
    expect(line.err.cause?.code).toBe('EIO');
  });
});
