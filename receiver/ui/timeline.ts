// A session's timeline, server-rendered as inline SVG plus the same events as a table: clock state,
// loss and other gaps, markers, calibration changes and chunk boundaries, all from signed records.
import { gapsOfSession, type SessionRecords } from '../../agent/records/exports.ts';
import { describeGap, formatDuration } from '../../agent/records/gap-text.ts';
import { html, type Html } from './html.ts';
import { isoOf } from './layout.ts';

export interface TimelineEvent {
  lane: 'clock' | 'gaps' | 'markers' | 'calibration' | 'chunks';
  startNs: bigint;
  endNs: bigint;
  what: string;
  color: string;
}

const clockColor = { locked: '#12b76a', holdover: '#f79009', unsynced: '#f04438' } as const;
const gapColor: Record<string, string> = {
  loss: '#d92d20',
  deid: '#7a2e0e',
  capture_paused: '#6941c6',
  downtime: '#101828',
};
const lanes = ['clock', 'gaps', 'markers', 'calibration', 'chunks'] as const;
const laneLabel = {
  clock: 'Clock',
  gaps: 'Loss, gaps',
  markers: 'Markers',
  calibration: 'Calibration',
  chunks: 'Chunks',
} as const;

/** Every timeline event of a session, in time order within each lane. */
export function timelineEvents(s: SessionRecords): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  let previous = new Map<string, string>();
  for (const r of s.chunks) {
    const c = r.predicate;
    const start = BigInt(c.startNs);
    for (const i of c.timesync.intervals)
      out.push({
        lane: 'clock',
        startNs: BigInt(i.startNs),
        endNs: BigInt(i.endNs),
        what: `clock ${i.state} (${c.timesync.source})`,
        color: clockColor[i.state],
      });
    const now = new Map(
      c.calibration.map((x) => [x.sensor, `${String(x.version)} ${x.digest.slice(0, 12)}`]),
    );
    const changes: string[] = [];
    for (const [sensor, v] of now) {
      const before = previous.get(sensor);
      if (before === undefined) changes.push(`${sensor} v${v}${previous.size === 0 ? '' : ' added'}`);
      else if (before !== v) changes.push(`${sensor} changed to v${v}`);
    }
    for (const sensor of previous.keys()) if (!now.has(sensor)) changes.push(`${sensor} removed`);
    if (changes.length > 0)
      out.push({
        lane: 'calibration',
        startNs: start,
        endNs: start,
        what: `calibration in chunk ${c.chunkIndex}: ${changes.join(', ')}`,
        color: '#0b57d0',
      });
    previous = now;
    out.push({
      lane: 'chunks',
      startNs: start,
      endNs: BigInt(c.endNs),
      what: `chunk ${c.chunkIndex} (${r.subject[0]?.name ?? ''})`,
      color: c.chunkIndex % 2 === 0 ? '#98a2b3' : '#667085',
    });
  }
  for (const g of gapsOfSession(s)) {
    if (g.kind?.startsWith('clock_') === true && g.kind !== 'clock_step') continue; // drawn in the clock lane
    out.push({
      lane: 'gaps',
      startNs: BigInt(g.startNs),
      endNs: BigInt(g.endNs),
      what: describeGap(g),
      color: gapColor[g.kind ?? ''] ?? '#b54708',
    });
  }
  for (const m of s.markers) {
    const p = m.predicate;
    const at = BigInt(p.atNs);
    out.push({
      lane: 'markers',
      startNs: at,
      endNs: at,
      what: `marker “${p.label}”${p.note === '' ? '' : ` [${p.note}]`}${p.operator === '' ? '' : ` by ${p.operator}`}`,
      color: '#1b1f24',
    });
  }
  return out.sort((a, b) =>
    a.lane === b.lane
      ? a.startNs < b.startNs
        ? -1
        : a.startNs > b.startNs
          ? 1
          : 0
      : lanes.indexOf(a.lane) - lanes.indexOf(b.lane),
  );
}

/** The SVG and the table of events between startNs and endNs. */
export function timelineHtml(events: readonly TimelineEvent[], startNs: bigint, endNs: bigint): Html {
  const width = 1000;
  const left = 110;
  const laneH = 26;
  const span = endNs > startNs ? endNs - startNs : 1n;
  const x = (ns: bigint): number => {
    const clamped = ns < startNs ? startNs : ns > endNs ? endNs : ns;
    return left + Number(((clamped - startNs) * BigInt(width - left - 10)) / span);
  };
  const height = lanes.length * laneH + 24;
  const shapes = events.map((e) => {
    const y = lanes.indexOf(e.lane) * laneH + 4;
    const x0 = x(e.startNs);
    const w = Math.max(e.startNs === e.endNs ? 0 : 2, x(e.endNs) - x0);
    return w === 0
      ? html`<g
          ><title>${e.what}</title
          ><rect x="${x0 - 1.5}" y="${y}" width="3" height="${laneH - 8}" fill="${e.color}"
        /></g>`
      : html`<g
          ><title>${e.what}</title
          ><rect x="${x0}" y="${y + 2}" width="${w}" height="${laneH - 12}" fill="${e.color}" rx="2"
        /></g>`;
  });
  const labels = lanes.map(
    (l, i) =>
      html`<text x="4" y="${i * laneH + laneH / 2 + 5}" font-size="13" fill="#344054">${laneLabel[l]}</text>`,
  );
  const axisY = lanes.length * laneH + 16;
  return html`<svg
      class="timeline"
      viewBox="0 0 ${width} ${height}"
      role="img"
      aria-label="Timeline from ${isoOf(startNs)} to ${isoOf(endNs)}"
    >
      ${labels}
      <line x1="${left}" x2="${width - 10}" y1="${axisY - 10}" y2="${axisY - 10}" stroke="#d0d5dd" />
      <text x="${left}" y="${axisY + 4}" font-size="12" fill="#5b6470">${isoOf(startNs)}</text>
      <text x="${width - 10}" y="${axisY + 4}" font-size="12" fill="#5b6470" text-anchor="end">
        +${formatDuration(endNs - startNs)}
      </text>
      ${shapes}
    </svg>
    <p class="legend">
      <span><i class="sw" style="background:${clockColor.locked}"></i>locked</span
      ><span><i class="sw" style="background:${clockColor.holdover}"></i>holdover</span
      ><span><i class="sw" style="background:${clockColor.unsynced}"></i>unsynced</span
      ><span><i class="sw" style="background:${gapColor['loss']}"></i>loss</span
      ><span><i class="sw" style="background:#1b1f24"></i>marker</span
      ><span><i class="sw" style="background:#0b57d0"></i>calibration change</span>
    </p>
    <details>
      <summary>Timeline events (${events.length})</summary>
      <div class="scroll">
        <table id="timeline-events">
          <thead>
            <tr>
              <th>Lane</th>
              <th>From (UTC)</th>
              <th>Duration</th>
              <th>What</th>
            </tr>
          </thead>
          <tbody>
            ${events.map(
              (e) =>
                html`<tr data-lane="${e.lane}">
                  <td>${laneLabel[e.lane]}</td>
                  <td>${isoOf(e.startNs)}</td>
                  <td>${e.endNs === e.startNs ? '—' : formatDuration(e.endNs - e.startNs)}</td>
                  <td>${e.what}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </details>`;
}
