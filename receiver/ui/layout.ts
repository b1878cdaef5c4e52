// The page frame shared by every dashboard page: inline CSS only (no external assets, no script),
// a skip link and a breadcrumb, and readable at phone width.
import { formatDuration } from '../../agent/records/gap-text.ts';
import { html, type Html } from './html.ts';

const css = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
a{color:#0b57d0}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5em}
.skip:focus{left:.5em}
header{background:#14213d;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:baseline;flex-wrap:wrap}
header a{color:#fff}
header .brand{font-weight:700;text-decoration:none}
nav.crumbs{font-size:.9em}
nav.crumbs a{color:#cfe0ff}
main{padding:1em;max-width:1200px;margin:0 auto}
main:focus{outline:none}
section>h2:first-child{margin-top:0}
h1{font-size:1.35em;margin:.2em 0 .6em;overflow-wrap:anywhere}
h2{font-size:1.1em;margin:1.4em 0 .5em}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8em 1em;margin:0 0 1em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.88em;overflow-wrap:anywhere}
.score{display:inline-block;min-width:2.6em;text-align:center;border-radius:4px;padding:0 .3em;font-weight:700}
.s-good{background:#d1fadf;color:#05603a}.s-mid{background:#fef0c7;color:#93370d}.s-bad{background:#fee4e2;color:#912018}.s-none{background:#eaecf0}
.ok{color:#05603a;font-weight:600}.fail{color:#b42318;font-weight:600}
form.filters{display:flex;flex-wrap:wrap;gap:.6em;align-items:flex-end}
form.filters label{display:flex;flex-direction:column;font-size:.85em;gap:.15em}
form.filters input,form.filters select{font:inherit;padding:.25em .35em;min-width:8em}
button{font:inherit;padding:.3em .9em;border-radius:4px;border:1px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer}
.pager{display:flex;gap:1em;margin-top:.6em;align-items:center;flex-wrap:wrap}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
svg.timeline{width:100%;height:auto;display:block}
.legend span{display:inline-block;margin-right:1em;font-size:.85em}
.sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-.1em;margin-right:.25em}
.muted{color:#5b6470}
@media (max-width:640px){main{padding:.5em}section{padding:.6em}th,td{padding:.3em}form.filters input,form.filters select{min-width:6.5em}}
`;

/** One crumb of the breadcrumb: a link, or the current page's name. */
export interface Crumb {
  label: string;
  href?: string;
}

/** A whole page. */
export function page(options: { title: string; crumbs: readonly Crumb[]; body: Html }): string {
  const crumbs = options.crumbs.map(
    (c, i) =>
      html`${i > 0 ? ' › ' : ''}${c.href === undefined ? html`<span aria-current="page">${c.label}</span>` : html`<a href="${c.href}">${c.label}</a>`}`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>${options.title} · rigcap store</title>
        <style>
          ${css}
        </style>
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <a class="brand" href="/ui/">rigcap store</a>
          <nav class="crumbs" aria-label="Breadcrumb">${crumbs}</nav>
        </header>
        <main id="main" tabindex="-1">${options.body}</main>
      </body>
    </html>`.text;
}

/** ISO 8601 UTC of a wall-clock ns value (to the second). */
export function isoOf(ns: bigint | string | null): string {
  if (ns === null) return '—';
  const ms = Number(BigInt(ns) / 1_000_000n);
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : String(ns);
}

/** Duration between two ns values, in words. */
export function spanOf(startNs: bigint, endNs: bigint | null): string {
  return endNs === null ? '—' : formatDuration(endNs - startNs);
}

/** A score badge. */
export function scoreBadge(score: number | null): Html {
  const cls = score === null ? 's-none' : score >= 90 ? 's-good' : score >= 70 ? 's-mid' : 's-bad';
  return html`<span class="score ${cls}">${score ?? '—'}</span>`;
}

/** A table column heading; `{ num }` for a right-aligned column of numbers. */
export type Column = string | { num: string };

/** A table that scrolls sideways on narrow screens: its id, column headings and body rows. */
export function table(id: string, columns: readonly Column[], rows: readonly Html[]): Html {
  const headings = columns.map((c) =>
    typeof c === 'string' ? html`<th>${c}</th>` : html`<th class="num">${c.num}</th>`,
  );
  return html`<div class="scroll">
    <table id="${id}">
      <thead>
        <tr>
          ${headings}
        </tr>
      </thead>
      <tbody>
        ${rows}
      </tbody>
    </table>
  </div>`;
}
