import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { deidSetFiles, deidSets, deidSourcesDir, deidVideo } from '../../../scripts/bench/deid-video.ts';

async function digest(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(new URL(file, deidSourcesDir)))
    .digest('hex');
}

describe('de-id tuning and evaluation sets', () => {
  it('share no source image, by name or by content, and no seed', async () => {
    const tuning = deidSetFiles('tuning');
    const evaluation = deidSetFiles('evaluation');
    expect(tuning.length).toBeGreaterThan(0);
    expect(evaluation.length).toBeGreaterThan(0);
    expect(tuning.filter((f) => evaluation.includes(f))).toEqual([]);
    const tuningBytes = new Set(await Promise.all(tuning.map(digest)));
    const evaluationBytes = await Promise.all(evaluation.map(digest));
    expect(evaluationBytes.filter((d) => tuningBytes.has(d))).toEqual([]);
    expect(deidSets.tuning.seed).not.toBe(deidSets.evaluation.seed);
  });

  it('every source is listed with its set in SOURCES.md', async () => {
    const sources = await readFile(new URL('SOURCES.md', deidSourcesDir), 'utf8');
    for (const set of ['tuning', 'evaluation'] as const)
      for (const file of deidSetFiles(set)) {
        const row = sources.split('\n').find((line) => line.includes(file));
        expect(row, file).toBeDefined();
        const cells = row!.split('|').map((cell) => cell.trim());
        expect(cells.at(-2), file).toBe(set);
      }
  });

  it('gives the same frames and labels for the same options, and different ones per set', async () => {
    const first = async (set: 'tuning' | 'evaluation') => {
      for await (const f of deidVideo({ set, frames: 1 })) return f;
      throw new Error('no frame');
    };
    const [a, b, c] = [await first('evaluation'), await first('evaluation'), await first('tuning')];
    expect(Buffer.from(a.jpeg).equals(Buffer.from(b.jpeg))).toBe(true);
    expect(a.labels).toEqual(b.labels);
    expect(Buffer.from(a.jpeg).equals(Buffer.from(c.jpeg))).toBe(false);
    expect(a.width).toBe(1920);
    expect(a.height).toBe(1080);
    // Ground truth is in the frame it labels and names its kind and size.
    for (const l of a.labels.filter((x) => x.inFrame)) {
      expect(l.box[0]).toBeGreaterThanOrEqual(0);
      expect(l.box[0] + l.box[2]).toBeLessThanOrEqual(1920);
      expect(l.quad).toHaveLength(4);
      expect(l.sizePx).toBeGreaterThan(0);
    }
  });
});
