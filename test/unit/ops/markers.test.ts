import { describe, expect, it } from 'vitest';
import { isRigcapError } from '../../../agent/errors.ts';
import { silentLogger } from '../../../agent/log.ts';
import { MarkerInbox, markMetadata, parseMarkRequest, type EventMark } from '../../../agent/ops/markers.ts';

describe('event markers', () => {
  it('stamps a mark and hands it to every listener, even when one fails', async () => {
    const inbox = new MarkerInbox({
      log: silentLogger(),
      wallNs: () => 1_700_000_000_000_000_000n,
      monoNs: () => 42n,
    });
    const seen: EventMark[] = [];
    inbox.onMark(() => {
      throw new Error('no open chunk');
    });
    inbox.onMark((mark) => void seen.push(mark));
    const mark = await inbox.submit({ text: 'hard brake at crossing', tags: ['brake', 'site:b7'] }, 'cli');
    expect(seen).toEqual([mark]);
    expect(mark).toMatchObject({
      text: 'hard brake at crossing',
      tags: ['brake', 'site:b7'],
      source: 'cli',
      wallNs: 1_700_000_000_000_000_000n,
      monoNs: 42n,
    });
    const meta = markMetadata(mark);
    expect(meta.name).toBe('rigcap.marker');
    expect(meta.metadata.get('tags')).toBe('brake,site:b7');
    expect(meta.metadata.get('wallNs')).toBe('1700000000000000000');
  });

  it('keeps the sender’s event time when given', async () => {
    const inbox = new MarkerInbox({ log: silentLogger() });
    const mark = await inbox.submit({ text: 'x', wallNs: '1700000000123456789' }, 'zmq');
    expect(mark.wallNs).toBe(1_700_000_000_123_456_789n);
  });

  it.each([
    [null],
    [{ text: '' }],
    [{ text: 'a'.repeat(1001) }],
    [{ text: 'ok', tags: ['has space'] }],
    [{ text: 'ok', tags: 'brake' }],
    [{ text: 'ok', wallNs: 12 }],
  ])('rejects %j with RIGCAP_MARK_INVALID', (input) => {
    let caught: unknown;
    try {
      parseMarkRequest(input);
    } catch (err) {
      caught = err;
    }
    expect(isRigcapError(caught, 'RIGCAP_MARK_INVALID')).toBe(true);
  });
});
