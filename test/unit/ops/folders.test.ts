// Making the control socket's (or the spool's) folder: missing levels are made with the mode, and a
// failure names the level that could not be made and the real errno, never recursive mkdir's ENOENT.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isFolderFailure, makeFolder } from '../../../agent/ops/folders.ts';
import { ipcFolder } from '../../../agent/ops/zmq-control.ts';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rigcap-folders-'));
  made.push(dir);
  return dir;
}

describe('makeFolder', () => {
  it('makes every missing level with the mode and says which it made', () => {
    const root = temp();
    const target = join(root, 'run', 'rigcap');
    expect(makeFolder(target, 0o750)).toEqual([join(root, 'run'), target]);
    expect(statSync(target).mode & 0o777).toBe(0o750);
    expect(makeFolder(target, 0o750)).toEqual([]);
  });

  it('a file in the way fails with ENOTDIR naming it', () => {
    const root = temp();
    writeFileSync(join(root, 'run'), '');
    let failure: unknown;
    try {
      makeFolder(join(root, 'run', 'rigcap'), 0o750);
    } catch (err) {
      failure = err;
    }
    expect(isFolderFailure(failure)).toBe(true);
    expect(failure).toMatchObject({ folder: join(root, 'run'), errno: 'ENOTDIR' });
  });
});

describe('ipcFolder', () => {
  it('is the socket file folder of an ipc:// path, and nothing for other transports or abstract sockets', () => {
    expect(ipcFolder('ipc:///run/rigcap/control.sock')).toBe('/run/rigcap');
    expect(ipcFolder('ipc://@rigcap-control')).toBeUndefined();
    expect(ipcFolder('tcp://127.0.0.1:5560')).toBeUndefined();
  });
});
