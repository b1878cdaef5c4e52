// Fleet and device pages: devices at a glance and a filtered, paged list of sessions, both read
// from the SessionIndex only (no session files are read to list them).
import { RigcapError } from '../../agent/errors.ts';
import { formatBytes } from '../../agent/records/gap-text.ts';
import type { DecodedRecordOf } from '../../agent/records/record-decode.ts';
import { html, queryOf, seg, type Html } from './html.ts';
import { isoOf, page, scoreBadge, spanOf } from './layout.ts';
import type { SessionFilter, SessionIndex } from './session-index.ts';

/** Sessions per list page. */
export const pageSize = 50;

/** The list filter as the form sends it (strings, '' = not set). */
export interface FilterParams {
  device?: string;
  site?: string;
  from?: string;
  to?: string;
  minScore?: string;
  maxScore?: string;
  page?: string;
}

function instantOf(name: string, text: string, endOfDay: boolean): bigint {
  if (/^[0-9]{1,20}$/.test(text)) return BigInt(text);
  const day = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const ms = Date.parse(day ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw new RigcapError(
      'RIGCAP_USAGE',
      `${name} must be a date (YYYY-MM-DD), an ISO 8601 time or nanoseconds`,
    );
  return BigInt(ms + (day && endOfDay ? 86_400_000 - 1 : 0)) * 1_000_000n;
}

function scoreOf(name: string, text: string): number {
  const n = Number(text);
  if (!/^\d{1,3}$/.test(text) || n > 100) throw new RigcapError('RIGCAP_USAGE', `${name} must be 0–100`);
  return n;
}

/** Validates the form's fields into an index filter; RIGCAP_USAGE names the first bad one. */
export function parseFilter(p: FilterParams): SessionFilter {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  const pageNo = set(p.page) ? Number(p.page) : 1;
  if (!Number.isSafeInteger(pageNo) || pageNo < 1 || !/^\d+$/.test(p.page ?? '1'))
    throw new RigcapError('RIGCAP_USAGE', 'page must be a whole number ≥ 1');
  const f: SessionFilter = { offset: (pageNo - 1) * pageSize, limit: pageSize };
  if (set(p.device)) f.device = p.device;
  if (set(p.site)) f.site = p.site;
  if (set(p.from)) f.fromNs = instantOf('from', p.from, false);
  if (set(p.to)) f.toNs = instantOf('to', p.to, true);
  if (set(p.minScore)) f.minScore = scoreOf('minScore', p.minScore);
  if (set(p.maxScore)) f.maxScore = scoreOf('maxScore', p.maxScore);
  return f;
}

function filterForm(
  index: SessionIndex,
  p: FilterParams,
  options: { action: string; device: boolean },
): Html {
  const devices = index.devices();
  const sites = index.sites();
  const v = (x: string | undefined): string => x ?? '';
  return html`<form class="filters" method="get" action="${options.action}" aria-label="Filter sessions">
    ${
      options.device
        ? html`<label
            >Device<select name="device">
              <option value="">all</option>
              ${devices.map(
                (d) =>
                  html`<option value="${d.deviceId}" ${d.deviceId === p.device ? html` selected` : ''}>
                    ${d.deviceId}
                  </option>`,
              )}
            </select></label
          >`
        : ''
    }
    <label
      >Site<select name="site">
        <option value="">all</option>
        ${sites.map((s) => html`<option value="${s}" ${s === p.site ? html` selected` : ''}>${s}</option>`)}
      </select></label
    >
    <label>From<input name="from" value="${v(p.from)}" placeholder="YYYY-MM-DD" inputmode="numeric" /></label>
    <label>To<input name="to" value="${v(p.to)}" placeholder="YYYY-MM-DD" inputmode="numeric" /></label>
    <label>Min score<input name="minScore" value="${v(p.minScore)}" size="4" inputmode="numeric" /></label>
    <label>Max score<input name="maxScore" value="${v(p.maxScore)}" size="4" inputmode="numeric" /></label>
    <button type="submit">Filter</button>
  </form>`;
}

function sessionTable(index: SessionIndex, p: FilterParams, f: SessionFilter, base: string): Html {
  const { total, rows } = index.query(f);
  const pageNo = f.offset / pageSize + 1;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const link = (n: number): string => `${base}${queryOf({ ...p, page: n })}`;
  return html`<p class="muted" id="session-count">
      ${total} session${total === 1 ? '' : 's'} match · page ${pageNo} of ${pages}
    </p>
    <div class="scroll">
      <table id="sessions">
        <thead>
          <tr>
            <th>Session</th>
            <th>Device</th>
            <th>Site</th>
            <th>Start (UTC)</th>
            <th>Duration</th>
            <th class="num">Chunks</th>
            <th class="num">Size</th>
            <th class="num">Score</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (r) =>
              html`<tr data-session="${r.sessionId}">
                <td>
                  <a href="/ui/sessions/${seg(r.sessionId)}">${r.sessionId}</a
                  >${r.closed ? '' : html` <span class="muted">(open)</span>`}
                </td>
                <td><a href="/ui/devices/${seg(r.deviceId)}">${r.deviceId}</a></td>
                <td>${r.site}</td>
                <td>${isoOf(r.startNs)}</td>
                <td>${spanOf(r.startNs, r.endNs)}</td>
                <td class="num">${r.chunks}</td>
                <td class="num">${formatBytes(r.bytes)}</td>
                <td class="num">${scoreBadge(r.score)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <nav class="pager" aria-label="Pages">
      ${pageNo > 1 ? html`<a href="${link(pageNo - 1)}" rel="prev">← Newer</a>` : ''}${
        pageNo < pages ? html`<a href="${link(pageNo + 1)}" rel="next">Older →</a>` : ''
      }
    </nav>`;
}

/** `/ui/`: every device, then the sessions matching the filter. */
export function fleetPage(index: SessionIndex, p: FilterParams): string {
  const f = parseFilter(p);
  const devices = index.devices();
  const body = html`<h1>Fleet</h1>
    <section aria-labelledby="devices-h">
      <h2 id="devices-h">Devices (${devices.length})</h2>
      <div class="scroll">
        <table id="devices">
          <thead>
            <tr>
              <th>Device</th>
              <th>Sites</th>
              <th class="num">Sessions</th>
              <th>Latest session (UTC)</th>
              <th class="num">Mean score</th>
            </tr>
          </thead>
          <tbody>
            ${devices.map(
              (d) =>
                html`<tr data-device="${d.deviceId}">
                  <td><a href="/ui/devices/${seg(d.deviceId)}">${d.deviceId}</a></td>
                  <td>${d.sites.join(', ')}</td>
                  <td class="num">${d.sessions}</td>
                  <td>${isoOf(d.lastStartNs)}</td>
                  <td class="num">${scoreBadge(d.meanScore === null ? null : Math.round(d.meanScore))}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Sessions</h2>
      ${filterForm(index, p, { action: '/ui/', device: true })} ${sessionTable(index, p, f, '/ui/')}
    </section>`;
  return page({ title: 'Fleet', crumbs: [{ label: 'Fleet' }], body });
}

/** `/ui/devices/:id`: the device's keys and its sessions. */
export function devicePage(
  index: SessionIndex,
  deviceId: string,
  keys: ReadonlyArray<DecodedRecordOf<'device-key'>>,
  p: FilterParams,
): string | undefined {
  const device = index.devices().find((d) => d.deviceId === deviceId);
  if (device === undefined) return undefined;
  const f = { ...parseFilter(p), device: deviceId };
  const base = `/ui/devices/${seg(deviceId)}`;
  const body = html`<h1>Device ${deviceId}</h1>
    <section>
      <dl class="facts">
        <dt>Sessions</dt>
        <dd>${device.sessions}</dd>
        <dt>Sites</dt>
        <dd>${device.sites.join(', ')}</dd>
        <dt>Latest session</dt>
        <dd>${isoOf(device.lastStartNs)}</dd>
        <dt>Mean score</dt>
        <dd>${scoreBadge(device.meanScore === null ? null : Math.round(device.meanScore))}</dd>
      </dl>
    </section>
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">Keys (signed device-key records)</h2>
      <div class="scroll">
        <table id="keys">
          <thead>
            <tr>
              <th class="num">Seq</th>
              <th>Action</th>
              <th>Key id</th>
              <th>Signed at (UTC)</th>
            </tr>
          </thead>
          <tbody>
            ${keys.map((k) => {
              const kp = k.predicate;
              const keyId = kp.action === 'rotate' ? `${kp.keyId} → ${kp.newKeyId}` : kp.keyId;
              return html`<tr>
                <td class="num">${k.chain.seq}</td>
                <td>${kp.action}${kp.action === 'revoke' ? ` from seq ${kp.invalidFromSeq}` : ''}</td>
                <td class="mono">${keyId}</td>
                <td>${isoOf(k.chain.wallNs)}</td>
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
    </section>
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Sessions</h2>
      ${filterForm(index, p, { action: base, device: false })}
      ${sessionTable(index, { ...p, device: '' }, f, base)}
    </section>`;
  return page({
    title: `Device ${deviceId}`,
    crumbs: [{ label: 'Fleet', href: '/ui/' }, { label: deviceId }],
    body,
  });
}

/** An error page naming the code (4xx answers). */
export function errorPage(status: number, code: string, message: string): string {
  return page({
    title: `${status}`,
    crumbs: [{ label: 'Fleet', href: '/ui/' }, { label: 'Error' }],
    body: html`<h1>${status === 404 ? 'Not found' : status === 400 ? 'Bad request' : 'Refused'}</h1>
      <section role="alert">
        <p><code id="error-code">${code}</code></p>
        <p>${message}</p>
        <p><a href="/ui/">Back to the fleet</a></p>
      </section>`,
  });
}
