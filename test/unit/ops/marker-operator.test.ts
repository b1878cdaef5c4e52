// A mark's operator (`rigcap mark --operator NAME`) is validated, kept on the mark and written into
// its MCAP metadata; a mark without one stays as before.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/log.ts';
import { MarkerInbox, markMetadata, parseMarkRequest } from '../../../agent/ops/markers.ts';

describe('mark operator', () => {
  it('is kept on the mark and in its metadata', async () => {
    const inbox = new MarkerInbox({ log: silentLogger(), wallNs: () => 1n, monoNs: () => 2n });
    const seen: Array<string | undefined> = [];
    inbox.onMark((m) => {
      seen.push(m.operator);
    });
    const mark = await inbox.submit({ text: 'pedestrian crossed', operator: 'j.doe' }, 'cli');
    expect(seen).toEqual(['j.doe']);
    expect(markMetadata(mark).metadata.get('operator')).toBe('j.doe');
    const plain = await inbox.submit({ text: 'no operator' }, 'http');
    expect(plain.operator).toBeUndefined();
    expect(markMetadata(plain).metadata.has('operator')).toBe(false);
  });

  it('rejects an empty, non-string or overlong operator', () => {
    for (const operator of ['', '  ', 42, 'x'.repeat(257)])
      expect(() => parseMarkRequest({ text: 't', operator })).toThrow(/operator/);
  });
});
