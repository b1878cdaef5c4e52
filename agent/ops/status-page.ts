// The local status page an operator opens on the robot (http://127.0.0.1:9464/). One self-contained
// document: inline CSS and JS, no external assets (robots are often offline). It polls /status.json
// and renders with textContent only, so topic names and error messages can never inject markup.

/** The status page HTML. */
export function statusPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rigcap status</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b1f24; background: #f6f7f9; }
  body { margin: 0 auto; max-width: 1100px; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 15px; margin: 0 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #57606a; }
  .meta { color: #57606a; font-size: 13px; margin-bottom: 16px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 12px; margin-bottom: 12px; }
  section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; }
  table { border-collapse: collapse; width: 100%; font-size: 14px; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .big { font-size: 22px; font-weight: 600; }
  .ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; }
  .pill { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; background: #eaeef2; margin: 1px 2px; }
  .bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin-top: 6px; }
  .bar > div { height: 100%; background: #0969da; }
  code { font-size: 13px; }
  #conn.bad { font-weight: 600; }
</style>
</head>
<body>
<h1>rigcap <span id="version"></span></h1>
<div class="meta">session <code id="session">–</code> · <span id="chunks">0</span> chunks · up <span id="uptime">–</span> · <span id="conn">connecting…</span></div>
<div class="grid">
  <section><h2>Clock</h2><div class="big" id="clock-state">–</div><div id="clock-detail"></div></section>
  <section><h2>Calibration</h2><div class="big" id="calib-version">–</div><div><code id="calib-digest"></code></div></section>
  <section><h2>Disk budget</h2><div class="big" id="disk-state">–</div><div id="disk-detail"></div><div class="bar"><div id="disk-bar" style="width:0"></div></div></section>
  <section><h2>Sync backlog</h2><div class="big" id="sync-backlog">–</div><div id="sync-detail"></div></section>
  <section><h2>De-identification</h2><div class="big" id="deid-fps">–</div><div id="deid-detail"></div></section>
</div>
<section style="margin-bottom:12px"><h2>Streams</h2>
  <table id="streams"><thead><tr><th>stream</th><th>topic</th><th>rate</th><th>received</th><th>bytes</th><th>queue</th><th>drops</th></tr></thead><tbody></tbody></table>
</section>
<section><h2>Recent errors</h2>
  <table id="errors"><thead><tr><th>time</th><th>code</th><th>message</th></tr></thead><tbody></tbody></table>
</section>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; let v = Number(n); while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; } return (i === 0 ? v : v.toFixed(1)) + ' ' + u[i]; };
const duration = (s) => { if (s === null || s === undefined) return 'unknown'; s = Math.round(s); const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60); return h > 0 ? h + 'h ' + m + 'm' : m > 0 ? m + 'm ' + (s % 60) + 's' : s + 's'; };
const stateClass = { locked: 'ok', ok: 'ok', holdover: 'warn', low: 'warn', unsynced: 'bad', unknown: 'warn', full: 'bad' };
function setState(id, state) { const e = $(id); e.textContent = state; e.className = 'big ' + (stateClass[state] || ''); }
function render(s) {
  $('version').textContent = s.version;
  $('session').textContent = s.session.id || '–';
  $('chunks').textContent = s.session.chunks;
  $('uptime').textContent = duration(s.uptimeSec);
  setState('clock-state', s.clock.state);
  $('clock-detail').textContent = 'source ' + s.clock.source + (s.clock.offsetNs === null ? '' : ' · offset ' + (Number(s.clock.offsetNs) / 1e6).toFixed(3) + ' ms');
  $('calib-version').textContent = s.calibration.version || 'none';
  $('calib-digest').textContent = s.calibration.digest ? s.calibration.digest.slice(0, 19) : '';
  setState('disk-state', s.disk.state);
  $('disk-detail').textContent = bytes(s.disk.usedBytes) + ' of ' + bytes(s.disk.budgetBytes) + ' budget · ' + bytes(s.disk.freeBytes) + ' free';
  $('disk-bar').style.width = Math.min(100, s.disk.budgetBytes > 0 ? (100 * s.disk.usedBytes) / s.disk.budgetBytes : 0) + '%';
  $('sync-backlog').textContent = bytes(s.sync.backlogBytes) + ' · ' + s.sync.backlogChunks + ' chunks';
  $('sync-detail').textContent = 'ETA ' + duration(s.sync.etaSeconds) + ' · ' + bytes(s.sync.goodputBytesPerSec) + '/s · last receipt ' + (s.sync.lastReceiptAt ? new Date(s.sync.lastReceiptAt).toLocaleTimeString() : 'never');
  $('deid-fps').textContent = s.deid.fps.toFixed(1) + ' fps';
  $('deid-fps').className = 'big ' + (s.deid.degraded ? 'bad' : 'ok');
  const h = s.deid.holding;
  $('deid-detail').textContent = s.deid.failed + ' failed frames' + (s.deid.degraded ? ' · degraded' : '') +
    (h ? ' · ' + h.mode + ': ' + h.heldFrames + ' held (' + bytes(h.heldBytes) + ' of ' + bytes(h.budgetBytes) + '), ' + h.blurredLate + ' blurred late' : '');
  const streams = $('streams').tBodies[0];
  streams.replaceChildren(...s.streams.map((st) => {
    const tr = el('tr');
    tr.dataset.stream = st.name;
    tr.append(el('td', st.name, st.degraded ? 'bad' : ''), el('td', st.topic), el('td', st.ratePerSec.toFixed(1) + ' /s', 'num rate'),
      el('td', st.received, 'num'), el('td', bytes(st.bytes), 'num'), el('td', st.queueDepth, 'num'));
    const drops = el('td', undefined, 'drops');
    const causes = Object.entries(st.drops).filter(([, n]) => n > 0);
    if (causes.length === 0) drops.textContent = '0';
    for (const [cause, n] of causes) drops.append(el('span', cause + ': ' + n, 'pill warn'));
    tr.append(drops);
    return tr;
  }));
  const errors = $('errors').tBodies[0];
  errors.replaceChildren(...(s.recentErrors.length === 0 ? [el('tr')] : s.recentErrors.slice().reverse().map((e) => {
    const tr = el('tr');
    tr.append(el('td', new Date(e.at).toLocaleTimeString()), el('td', undefined), el('td', e.message));
    tr.children[1].append(el('code', e.code, 'bad'));
    return tr;
  })));
  if (s.recentErrors.length === 0) errors.rows[0].append(el('td', 'none'));
}
async function poll() {
  try {
    const res = await fetch('status.json', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    $('conn').textContent = 'live · ' + new Date().toLocaleTimeString();
    $('conn').className = 'ok';
  } catch (err) {
    $('conn').textContent = 'agent not answering (' + err.message + ')';
    $('conn').className = 'bad';
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
}
