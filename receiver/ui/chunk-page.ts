// `/ui/sessions/:id/chunks/:index`: one chunk's signed record in full (streams and drops by cause,
// clock intervals, calibration, transforms) with its file check and custody receipts.
import type { SessionRecords } from '../../agent/records/exports.ts';
import { formatBytes } from '../../agent/records/gap-text.ts';
import type { CaptureChunkPredicate } from '../../agent/records/predicates.ts';
import type { DecodedRecord, DecodedRecordOf } from '../../agent/records/record-decode.ts';
import { html, seg, type Html } from './html.ts';
import { isoOf, page, spanOf, table } from './layout.ts';
import { chunkOf, fileCheck, receiptsOf, type SessionVerify } from './session-verify.ts';

function factsSection(s: SessionRecords, r: DecodedRecordOf<'capture-chunk'>, v: SessionVerify): Html {
  const c = chunkOf(r);
  const sha = r.subject[0]?.digest.sha256 ?? '';
  const check = fileCheck(v, r);
  return html`<section>
    <dl class="facts">
      <dt>Session</dt>
      <dd><a href="/ui/sessions/${seg(s.sessionId)}">${s.sessionId}</a></dd>
      <dt>Index</dt>
      <dd>${c.chunkIndex}</dd>
      <dt>SHA-256</dt>
      <dd class="mono" id="chunk-sha256">${sha}</dd>
      <dt>Size</dt>
      <dd>${formatBytes(BigInt(c.bytes))} (${c.bytes} bytes)</dd>
      <dt>Window (UTC)</dt>
      <dd>${isoOf(c.startNs)} – ${isoOf(c.endNs)} (${spanOf(BigInt(c.startNs), BigInt(c.endNs))})</dd>
      <dt>Record</dt>
      <dd>
        ${r.chain.deviceId} seq ${r.chain.seq}, payload sha256 <span class="mono">${r.payloadSha256}</span>,
        key <span class="mono">${r.keyId}</span>, boot ${r.chain.bootId}
      </dd>
      <dt>Producer</dt>
      <dd>
        rigcap ${c.producer.rigcapVersion}, config sha256 <span class="mono">${c.producer.configDigest}</span>
      </dd>
      <dt>File</dt>
      <dd id="chunk-file" class="${check === 'hash verified' ? 'ok' : 'fail'}">${check}</dd>
      <dt>Trace a sample</dt>
      <dd class="mono">rigcap trace STORE --chunk ${sha} --topic TOPIC --at NS</dd>
    </dl>
  </section>`;
}

function streamsSection(c: CaptureChunkPredicate): Html {
  const rows = c.streams.map((st) => {
    const drops = Object.entries(st.drops)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    return html`<tr data-topic="${st.topic}">
      <td class="mono">${st.topic}</td>
      <td class="mono">${st.type}</td>
      <td class="num">${st.count}</td>
      <td>${drops || '0'}</td>
      <td class="num">${st.upstreamLoss}</td>
    </tr>`;
  });
  return html`<section aria-labelledby="streams-h">
    <h2 id="streams-h">Streams</h2>
    ${table('streams', ['Topic', 'Type', { num: 'Samples' }, 'Dropped by cause', { num: 'Upstream loss' }], rows)}
  </section>`;
}

function clockSection(c: CaptureChunkPredicate): Html {
  const t = c.timesync;
  const rows = t.intervals.map(
    (i) =>
      html`<tr>
        <td>${i.state}</td>
        <td>${isoOf(i.startNs)}</td>
        <td>${spanOf(BigInt(i.startNs), BigInt(i.endNs))}</td>
      </tr>`,
  );
  const offset =
    t.offsetNs === null
      ? ''
      : html`<p>Offset ns: mean ${t.offsetNs.mean}, p95 ${t.offsetNs.p95}, max ${t.offsetNs.max}</p>`;
  const steps =
    t.steps.length === 0
      ? ''
      : html`<p>Steps: ${t.steps.map((x) => `${x.stepNs} ns at ${isoOf(x.atNs)}`).join('; ')}</p>`;
  return html`<section aria-labelledby="clock-h">
    <h2 id="clock-h">Clock (${t.source}, ${t.samples} samples, state at end ${t.stateAtEnd})</h2>
    ${table('clock', ['State', 'From (UTC)', 'Duration'], rows)} ${offset}${steps}
  </section>`;
}

function calibrationSection(c: CaptureChunkPredicate): Html {
  const rows = c.calibration.map(
    (x) =>
      html`<tr>
        <td>${x.sensor}</td>
        <td>${String(x.version)}</td>
        <td class="mono">${x.digest}</td>
      </tr>`,
  );
  return html`<section aria-labelledby="calib-h">
    <h2 id="calib-h">Calibration</h2>
    ${table('calibration', ['Sensor', 'Version', 'Digest'], rows)}
    ${rows.length === 0 ? html`<p class="muted">No calibration in this chunk.</p>` : ''}
  </section>`;
}

function receiptsSection(s: SessionRecords, r: DecodedRecord): Html {
  const receipts = receiptsOf(s, r);
  const items = receipts.map(
    (x) =>
      html`<li>
        ${x.storeId} receipt seq ${x.seq}: log index <span class="log-index">${x.p.log.index}</span> of
        ${x.p.log.size}, root <span class="mono">${x.p.log.root}</span>, received ${isoOf(x.p.receivedWallNs)}
      </li>`,
  );
  return html`<section aria-labelledby="receipts-h">
    <h2 id="receipts-h">Custody receipts</h2>
    ${
      items.length === 0
        ? html`<p class="muted">No custody receipt for this chunk in the store.</p>`
        : html`<ul id="receipts">
            ${items}
          </ul>`
    }
  </section>`;
}

/** The whole chunk page (undefined when the session has no such chunk). */
export function chunkPage(s: SessionRecords, chunkIndex: number, v: SessionVerify): string | undefined {
  const r = s.chunks.find((x) => chunkOf(x).chunkIndex === chunkIndex);
  if (r === undefined) return undefined;
  const c = chunkOf(r);
  const name = r.subject[0]?.name ?? '';
  const transforms = c.transforms.map(
    (t) => html`<pre class="mono scroll">${JSON.stringify(t, null, 2)}</pre>`,
  );
  const body = html`<h1>Chunk ${name}</h1>
    ${factsSection(s, r, v)}${streamsSection(c)}${clockSection(c)}${calibrationSection(c)}
    <section aria-labelledby="transforms-h">
      <h2 id="transforms-h">Transforms (de-id lineage)</h2>
      ${transforms}${transforms.length === 0 ? html`<p class="muted">None.</p>` : ''}
    </section>
    ${receiptsSection(s, r)}`;
  return page({
    title: `Chunk ${name}`,
    crumbs: [
      { label: 'Fleet', href: '/ui/' },
      { label: s.deviceId, href: `/ui/devices/${seg(s.deviceId)}` },
      { label: s.sessionId, href: `/ui/sessions/${seg(s.sessionId)}` },
      { label: name },
    ],
    body,
  });
}
