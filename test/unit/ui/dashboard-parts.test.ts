import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRigcapError } from '../../../agent/errors.ts';
import { parseFilter } from '../../../receiver/ui/fleet-pages.ts';
import { html } from '../../../receiver/ui/html.ts';
import { SessionIndex, type SessionRow } from '../../../receiver/ui/session-index.ts';

const unescape = (s: string): string =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#96;', '`')
    .replaceAll('&amp;', '&');

describe('dashboard html', () => {
  it('any interpolated string is escaped: no markup character survives, and unescaping gives it back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = html`<td title="${s}">${s}</td>`.text;
        const [attr, body] = [/^<td title="(.*)">/s.exec(out)![1]!, /">(.*)<\/td>$/s.exec(out)![1]!];
        for (const part of [attr, body]) {
          expect(part).not.toMatch(/[<>"'`]/);
          expect(part).not.toMatch(/&(?!(amp|lt|gt|quot|#39|#96);)/);
          expect(unescape(part)).toBe(s);
        }
      }),
    );
  });

  it('fragments built by html are inserted as they are, arrays are joined, empty values vanish', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}${[html`<i>a</i>`, 'x&y']}${null}${undefined}${false}</p>`.text).toBe(
      '<p><b>&lt;i&gt;</b><i>a</i>x&amp;y</p>',
    );
  });
});

const row = (i: number, over: Partial<SessionRow> = {}): SessionRow => ({
  sessionId: `S${i}`,
  deviceId: `rig-${i % 3}`,
  site: i % 2 === 0 ? 'north' : 'south',
  startNs: BigInt(i) * 1_000n,
  endNs: BigInt(i) * 1_000n + 500n,
  chunks: 1,
  bytes: 10n,
  closed: true,
  score: i * 10,
  seqs: [],
  ...over,
});

describe('session index', () => {
  it('filters by device, site, time overlap and score, newest first, in pages', () => {
    const index = new SessionIndex();
    for (let i = 0; i < 10; i++) index.put(row(i));
    index.put(row(10, { score: null, closed: false, endNs: null }));
    const all = index.query({ offset: 0, limit: 4 });
    expect(all.total).toBe(11);
    expect(all.rows.map((r) => r.sessionId)).toEqual(['S10', 'S9', 'S8', 'S7']);
    expect(index.query({ offset: 8, limit: 4 }).rows.map((r) => r.sessionId)).toEqual(['S2', 'S1', 'S0']);
    expect(index.query({ device: 'rig-1', offset: 0, limit: 50 }).rows.map((r) => r.sessionId)).toEqual([
      'S10',
      'S7',
      'S4',
      'S1',
    ]);
    expect(index.query({ site: 'north', minScore: 40, offset: 0, limit: 50 }).total).toBe(3); // 4, 6, 8
    // [2500, 3200] overlaps S2 (2000–2500) and S3 (3000–3500) only.
    expect(
      index.query({ fromNs: 2500n, toNs: 3200n, offset: 0, limit: 50 }).rows.map((r) => r.sessionId),
    ).toEqual(['S3', 'S2']);
    // An unscored session matches no score bound.
    expect(index.query({ maxScore: 100, offset: 0, limit: 50 }).total).toBe(10);
    expect(index.devices().map((d) => [d.deviceId, d.sessions, d.meanScore])).toEqual([
      ['rig-0', 4, 45],
      ['rig-1', 4, 40],
      ['rig-2', 3, 50],
    ]);
    expect(index.sites()).toEqual(['north', 'south']);
  });

  it('the list filter accepts dates, ISO times and nanoseconds, and names the first bad field', () => {
    expect(parseFilter({ from: '2026-01-01', to: '2026-01-01', page: '2' })).toEqual({
      offset: 50,
      limit: 50,
      fromNs: 1_767_225_600_000_000_000n,
      toNs: 1_767_311_999_999_000_000n,
    });
    expect(parseFilter({ from: '5', minScore: '0', maxScore: '100', device: '', site: '' })).toEqual({
      offset: 0,
      limit: 50,
      fromNs: 5n,
      minScore: 0,
      maxScore: 100,
    });
    for (const bad of [
      { from: 'soon' },
      { to: '01/02/2026' },
      { minScore: '101' },
      { page: '0' },
      { page: '1e3' },
    ]) {
      let caught: unknown;
      try {
        parseFilter(bad);
      } catch (err) {
        caught = err;
      }
      expect(isRigcapError(caught, 'RIGCAP_USAGE'), JSON.stringify(bad)).toBe(true);
    }
  });
});
