// `/ui/sessions/:id`: the session's facts, readiness score and factors, timeline, streams, chunks,
// de-id lineage, custody receipts with log indexes, verify result and export links.
import type { SessionRecords } from '../../agent/records/exports.ts';
import { sessionFacts } from '../../agent/records/exports.ts';
import { formatBytes, formatPercent } from '../../agent/records/gap-text.ts';
import type { SessionReadiness } from '../../agent/records/readiness.ts';
import { html, seg, type Html } from './html.ts';
import { isoOf, page, scoreBadge, spanOf, table } from './layout.ts';
import type { SessionRow } from './session-index.ts';
import { chunkOf, fileCheck, receiptsOf, type SessionVerify } from './session-verify.ts';
import { timelineEvents, timelineHtml } from './timeline.ts';

function factsSection(row: SessionRow, s: SessionRecords): Html {
  const policy = sessionFacts(s).policy;
  const policyText =
    policy === null
      ? '—'
      : `owner ${policy.owner ?? '—'}, purpose ${policy.purpose}, residency ${policy.residency}, retention ${policy.retentionDays} days`;
  return html`<section>
    <dl class="facts">
      <dt>Device</dt>
      <dd><a href="/ui/devices/${seg(s.deviceId)}">${s.deviceId}</a></dd>
      <dt>Site</dt>
      <dd>${row.site}</dd>
      <dt>Start (UTC)</dt>
      <dd>${isoOf(row.startNs)}</dd>
      <dt>End (UTC)</dt>
      <dd>${isoOf(row.endNs)}</dd>
      <dt>Duration</dt>
      <dd>${spanOf(row.startNs, row.endNs)}</dd>
      <dt>Chunks</dt>
      <dd>${row.chunks} (${formatBytes(row.bytes)})</dd>
      <dt>State</dt>
      <dd>${row.closed ? 'closed' : 'open (no close record yet)'}</dd>
      <dt>Policy</dt>
      <dd>${policyText}</dd>
    </dl>
  </section>`;
}

function readinessSection(r: SessionReadiness): Html {
  const rows = r.factors.map(
    (f) =>
      html`<tr data-factor="${f.name}">
        <td>${f.name}</td>
        <td class="num">${f.value}</td>
        <td class="num">${f.cost === 0 ? '0' : `−${f.cost}`}</td>
        <td>${f.reason}</td>
      </tr>`,
  );
  return html`<section aria-labelledby="readiness-h">
    <h2 id="readiness-h">Readiness <span id="score">${scoreBadge(r.score)}</span></h2>
    ${table('factors', ['Factor', { num: 'Value' }, { num: 'Cost' }, 'Why'], rows)}
  </section>`;
}

function streamsSection(s: SessionRecords): Html {
  const rows = sessionFacts(s).streams.map((st) => {
    const lost = st.drops + st.upstreamLoss;
    return html`<tr data-topic="${st.topic}">
      <td class="mono">${st.topic}</td>
      <td class="mono">${st.type}</td>
      <td class="num">${st.count}</td>
      <td class="num">${st.drops}</td>
      <td class="num">${st.upstreamLoss}</td>
      <td class="num">${formatPercent(lost, st.count + lost)}</td>
    </tr>`;
  });
  return html`<section aria-labelledby="streams-h">
    <h2 id="streams-h">Streams</h2>
    ${table('streams', ['Topic', 'Type', { num: 'Samples' }, { num: 'Dropped' }, { num: 'Upstream loss' }, { num: 'Loss' }], rows)}
  </section>`;
}

function chunksSection(s: SessionRecords, v: SessionVerify): Html {
  const rows = s.chunks.map((r) => {
    const c = chunkOf(r);
    const href = `/ui/sessions/${seg(s.sessionId)}/chunks/${c.chunkIndex}`;
    return html`<tr>
      <td class="num">${c.chunkIndex}</td>
      <td><a href="${href}">${r.subject[0]?.name ?? ''}</a></td>
      <td>${isoOf(c.startNs)}</td>
      <td>${spanOf(BigInt(c.startNs), BigInt(c.endNs))}</td>
      <td class="num">${formatBytes(BigInt(c.bytes))}</td>
      <td>${fileCheck(v, r)}</td>
    </tr>`;
  });
  return html`<section aria-labelledby="chunks-h">
    <h2 id="chunks-h">Chunks</h2>
    ${table('chunks', [{ num: '#' }, 'File', 'From (UTC)', 'Duration', { num: 'Size' }, 'File check'], rows)}
  </section>`;
}

const pairs = (o: unknown): string =>
  Object.entries((o ?? {}) as Record<string, unknown>)
    .map(([k, n]) => `${k} ${String(n)}`)
    .join(', ');

function deidSection(s: SessionRecords): Html {
  const rows = s.chunks.flatMap((r) =>
    chunkOf(r)
      .transforms.filter((t) => t.kind === 'de-identification')
      .map((t) => {
        const models = ((t['models'] as Array<Record<string, string>> | undefined) ?? [])
          .map((m) => `${m['name'] ?? '?'} (${m['kind'] ?? '?'}) ${m['sha256'] ?? ''}`)
          .join('; ');
        const params = typeof t['paramsDigest'] === 'string' ? t['paramsDigest'] : '—';
        const exempt = ((t['exemptStreams'] as string[] | undefined) ?? []).join(', ');
        return html`<tr>
          <td class="num">${chunkOf(r).chunkIndex}</td>
          <td>${t['enabled'] === false ? 'off' : 'on'}</td>
          <td class="mono">${models || '—'}</td>
          <td class="mono">${params}</td>
          <td>${pairs(t['frames'])}</td>
          <td>${pairs(t['boxes'])}</td>
          <td>${exempt || '—'}</td>
        </tr>`;
      }),
  );
  return html`<section aria-labelledby="deid-h">
    <h2 id="deid-h">De-identification lineage</h2>
    ${table('deid', [{ num: 'Chunk' }, 'De-id', 'Models', 'Parameters sha256', 'Frames', 'Boxes', 'Exempt'], rows)}
    ${rows.length === 0 ? html`<p class="muted">No de-identification lineage in this session's records.</p>` : ''}
  </section>`;
}

function receiptsSection(s: SessionRecords): Html {
  const named = [...(s.open ? [s.open] : []), ...s.chunks, ...s.markers, ...(s.close ? [s.close] : [])];
  const rows = named.flatMap((r) => {
    const what =
      r.name === 'capture-chunk'
        ? (r.subject[0]?.name ?? '')
        : r.name === 'session'
          ? `session ${String(r.predicate['phase'])}`
          : r.name;
    return receiptsOf(s, r).map(
      (x) =>
        html`<tr>
          <td>${what}</td>
          <td class="num">${r.chain.seq}</td>
          <td>${x.storeId}</td>
          <td class="num">${x.seq}</td>
          <td class="num log-index">${x.p.log.index}</td>
          <td class="num">${x.p.log.size}</td>
          <td class="mono">${x.p.log.root}</td>
          <td>${isoOf(x.p.receivedWallNs)}</td>
        </tr>`,
    );
  });
  return html`<section aria-labelledby="receipts-h">
    <h2 id="receipts-h">Custody receipts and log indexes</h2>
    ${table('receipts', ['Record', { num: 'Seq' }, 'Store', { num: 'Receipt seq' }, { num: 'Log index' }, { num: 'Log size' }, 'Log root', 'Received (UTC)'], rows)}
    ${rows.length === 0 ? html`<p class="muted">No custody receipts for this session in the store.</p>` : ''}
  </section>`;
}

function verifySection(v: SessionVerify): Html {
  const n = v.failures.length;
  const rows = v.failures.map(
    (f) =>
      html`<tr>
        <td><code>${f.code}</code></td>
        <td class="mono">${f.file}</td>
        <td>${f.reason}</td>
      </tr>`,
  );
  return html`<section aria-labelledby="verify-h">
    <h2 id="verify-h">Verify</h2>
    <p id="verify-result" class="${n === 0 ? 'ok' : 'fail'}">
      ${n === 0 ? 'verified: signatures, keys, chain links, session root, receipts and every chunk file' : `${n} failure${n === 1 ? '' : 's'}`}
    </p>
    ${n === 0 ? '' : html`${table('verify-failures', ['Code', 'File', 'Reason'], rows)}`}
  </section>`;
}

function exportSection(s: SessionRecords): Html {
  const base = `/ui/sessions/${seg(s.sessionId)}/export`;
  return html`<section aria-labelledby="export-h">
    <h2 id="export-h">Export</h2>
    <ul id="exports">
      <li><a href="${base}/intoto" download>in-toto bundle (JSON Lines)</a></li>
      <li><a href="${base}/prov" download>W3C PROV-JSON</a></li>
      <li><a href="${base}/card" download>dataset card (Markdown)</a></li>
      <li><a href="${base}/croissant" download>Croissant RAI (JSON-LD)</a></li>
    </ul>
  </section>`;
}

/** The whole session page. */
export function sessionPage(
  row: SessionRow,
  s: SessionRecords,
  readiness: SessionReadiness,
  v: SessionVerify,
): string {
  const timeline = timelineHtml(timelineEvents(s), row.startNs, row.endNs ?? row.startNs);
  const body = html`<h1>Session ${s.sessionId}</h1>
    ${factsSection(row, s)}${readinessSection(readiness)}
    <section aria-labelledby="timeline-h">
      <h2 id="timeline-h">Timeline</h2>
      ${timeline}
    </section>
    ${streamsSection(s)}${chunksSection(s, v)}${deidSection(s)}${receiptsSection(s)}${verifySection(v)}${exportSection(s)}`;
  return page({
    title: `Session ${s.sessionId}`,
    crumbs: [
      { label: 'Fleet', href: '/ui/' },
      { label: s.deviceId, href: `/ui/devices/${seg(s.deviceId)}` },
      { label: s.sessionId },
    ],
    body,
  });
}
