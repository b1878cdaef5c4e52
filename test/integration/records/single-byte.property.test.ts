// Property: any single-byte change to any record, sidecar, session file or chunk is detected.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { MemorySource, verifyTree } from '../../../agent/records/index.ts';
import { standardSpool } from './spool-fixture.ts';

async function loadTree(root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else files.set(relative(root, path), new Uint8Array(await readFile(path)));
    }
  };
  await walk(root);
  return files;
}

let files: Map<string, Uint8Array>;
let targets: string[];

beforeAll(async () => {
  const spool = await standardSpool({ deviceId: 'rig-p' });
  await spool.sealer.close();
  files = await loadTree(spool.rootDir);
  targets = [...files.keys()].filter((p) => p.startsWith('records/') || p.startsWith('sessions/')).sort();
});

describe('verifier property', () => {
  it('the unmodified tree verifies from memory', async () => {
    expect((await verifyTree(new MemorySource(files))).ok).toBe(true);
  });

  it('detects any single-byte change to any record or chunk', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (fileIndex, position, delta) => {
          const path = targets[fileIndex % targets.length] as string;
          const original = files.get(path) as Uint8Array;
          const changed = new Uint8Array(original);
          const at = position % changed.byteLength;
          changed[at] = ((changed[at] ?? 0) + delta) & 0xff;
          const tampered = new Map(files);
          tampered.set(path, changed);
          const report = await verifyTree(new MemorySource(tampered));
          expect(report.ok, `${path} byte ${at}`).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
  });
});
