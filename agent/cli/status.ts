// `rigcap status [--json]`: what the running agent is doing (from its local ops endpoint), or, when
// it is not running, what its spool holds (from the catalog).
import { existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from '../catalog/catalog.ts';
import { loadConfigFile } from '../config/load.ts';
import { RigcapError, isErrno } from '../errors.ts';
import { silentLogger } from '../log.ts';
import type { AgentSnapshot, DeidSnapshot, StreamSnapshot } from '../ops/snapshot.ts';
import { rigcapVersion } from '../version.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';
import { configPath, opsBaseUrl } from './ops-url.ts';

/** Status as printed: the agent's snapshot plus where it came from. */
export type StatusReport = AgentSnapshot & { running: boolean; source: 'agent' | 'spool' };

async function fetchSnapshot(base: string): Promise<AgentSnapshot | undefined> {
  try {
    const res = await fetch(new URL('status.json', base), { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as AgentSnapshot) : undefined;
  } catch (err) {
    // No agent answers (refused, timed out) or it answered something else: read the spool instead.
    if (!noAgentAnswer(err)) throw err;
    return undefined;
  }
}

/** fetch's failures (TypeError: refused, reset; TimeoutError) and a body that is not JSON. */
function noAgentAnswer(err: unknown): boolean {
  return (
    err instanceof Error && ['TypeError', 'TimeoutError', 'AbortError', 'SyntaxError'].includes(err.name)
  );
}

/** What the spool says when no agent answers. */
export function spoolSnapshot(spoolDir: string, budgetBytes: number): AgentSnapshot {
  const dbPath = join(spoolDir, 'catalog.sqlite');
  if (!existsSync(dbPath))
    throw new RigcapError(
      'RIGCAP_NOT_FOUND',
      `no catalog at ${dbPath}: the agent has not run with this spool yet`,
    );
  const catalog = Catalog.open({ path: dbPath, logger: silentLogger() });
  try {
    const chunks = catalog.listChunks();
    const live = chunks.filter((c) => c.state !== 'deleted');
    // A chunk is backlog until the store has signed a receipt for it (a receipt makes it `synced`).
    const backlog = live.filter((c) => c.state !== 'synced');
    const receipt = catalog.syncLedger().lastReceipt();
    const last = catalog.listSessions().at(-1);
    let freeBytes = 0;
    try {
      const fs = statfsSync(spoolDir);
      freeBytes = fs.bavail * fs.bsize;
    } catch (err) {
      // The spool folder is not there or not ours to read: free space stays unknown (0).
      if (!isErrno(err, 'ENOENT', 'ENOTDIR', 'EACCES')) throw err;
    }
    const usedBytes = live.reduce((n, c) => n + c.bytes, 0);
    return {
      streams: [],
      unattributedDrops: {},
      clock: { state: 'unknown', offsetNs: null, source: 'none' },
      calibration: { version: null, digest: null },
      disk: {
        budgetBytes,
        usedBytes,
        freeBytes,
        state: usedBytes >= budgetBytes ? 'full' : usedBytes >= budgetBytes * 0.9 ? 'low' : 'ok',
      },
      sync: {
        backlogChunks: backlog.length,
        backlogBytes: backlog.reduce((n, c) => n + c.bytes, 0),
        etaSeconds: null,
        lastReceiptAt: receipt === undefined ? null : new Date(receipt.syncedMs).toISOString(),
        goodputBytesPerSec: 0,
      },
      deid: { fps: 0, failed: 0, degraded: false },
      session: {
        id: last?.id ?? null,
        chunks: last === undefined ? 0 : chunks.filter((c) => c.sessionId === last.id).length,
      },
      recentErrors: [],
      uptimeSec: 0,
      version: rigcapVersion,
    };
  } finally {
    catalog.close();
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A share as a short percentage (`<0.1%` rather than a misleading `0%` for a few drops). */
function percent(share: number): string {
  const p = share * 100;
  return `${p === 0 ? '0' : p < 0.1 ? '<0.1' : p < 10 ? p.toFixed(1) : p.toFixed(0)}%`;
}

/** What a stream lost: every drop cause, largest first, out of what it was offered (received plus lost upstream). */
export function streamLoss(s: StreamSnapshot): {
  causes: Array<[string, number]>;
  lost: number;
  share: number;
} {
  const causes = Object.entries(s.drops)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const lost = causes.reduce((n, [, c]) => n + c, 0);
  const offered = s.received + (s.drops['upstream_loss'] ?? 0);
  return { causes, lost, share: offered > 0 ? Math.min(1, lost / offered) : lost > 0 ? 1 : 0 };
}

/** The de-id line: blurred fps over the recent window, what it lost there, and its health in capitals when not ok. */
function deidLine(d: DeidSnapshot): string {
  const health = d.health ?? (d.degraded ? 'bad' : 'ok');
  const window = d.windowSec === undefined ? '' : ` (last ${Math.round(d.windowSec)} s)`;
  const recent = d.recent === undefined ? '' : `, ${d.recent.dropped} of ${d.recent.received} frames dropped`;
  const verdict = health === 'ok' ? '' : `: ${health === 'bad' ? 'BAD' : 'WARN'} ${d.reason ?? ''}`.trimEnd();
  return `de-id        ${d.fps.toFixed(1)} fps blurred${window}${recent}, ${d.failed} failed${d.degraded ? ', DEGRADED' : ''}${verdict}`;
}

/** Human rendering of a status report. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(
    r.running
      ? `rigcap ${r.version}: capturing, up ${r.uptimeSec} s, session ${r.session.id ?? '-'} (${r.session.chunks} chunks)`
      : `rigcap: agent not running; spool holds session ${r.session.id ?? '-'} (${r.session.chunks} chunks)`,
  );
  const losing: string[] = [];
  if (r.streams.length > 0) {
    lines.push(
      '',
      `${'stream'.padEnd(20)} ${'rate/s'.padStart(8)} ${'received'.padStart(9)} ${'MiB'.padStart(8)} ${'queue'.padStart(6)} ${'lost'.padStart(16)}  drops by cause`,
    );
    for (const s of r.streams) {
      const loss = streamLoss(s);
      const drops = loss.causes.map(([c, n]) => `${c}=${n}`).join(' ') || '-';
      const lost = loss.lost === 0 ? '0' : `${loss.lost} (${percent(loss.share)})`;
      if (loss.lost > 0) losing.push(`${s.name} ${percent(loss.share)} (${drops})`);
      lines.push(
        `${s.name.padEnd(20)} ${s.ratePerSec.toFixed(1).padStart(8)} ${String(s.received).padStart(9)} ${(s.bytes / 1048576).toFixed(1).padStart(8)} ${String(s.queueDepth).padStart(6)} ${lost.padStart(16)}  ${drops}${s.degraded ? '  DEGRADED' : ''}`,
      );
    }
  }
  // Losses lead the report: an operator reading the first lines must not miss a stream losing data.
  if (losing.length > 0) lines.splice(1, 0, `LOSING DATA  ${losing.join('; ')}`);
  const stray = Object.entries(r.unattributedDrops ?? {})
    .map(([c, n]) => `${c}=${n}`)
    .join(' ');
  if (stray !== '')
    lines.push(
      `${'(no stream)'.padEnd(20)} ${''.padStart(8)} ${''.padStart(9)} ${''.padStart(8)} ${''.padStart(6)} ${''.padStart(16)}  ${stray}`,
    );
  lines.push('');
  lines.push(
    `clock        ${r.clock.state} (${r.clock.source}${r.clock.offsetNs === null ? '' : `, offset ${r.clock.offsetNs} ns`})`,
  );
  lines.push(
    `calibration  ${r.calibration.version ?? '-'}${r.calibration.digest === null ? '' : ` (rig ${r.calibration.digest.slice(0, 12)})`}`,
  );
  lines.push(
    `disk         ${mib(r.disk.usedBytes)} of ${mib(r.disk.budgetBytes)} budget, ${mib(r.disk.freeBytes)} free: ${r.disk.state}`,
  );
  lines.push(
    `sync         backlog ${r.sync.backlogChunks} chunks, ${mib(r.sync.backlogBytes)}${r.sync.etaSeconds === null ? '' : `, ETA ${r.sync.etaSeconds} s`}; last receipt ${r.sync.lastReceiptAt ?? 'never'}${r.sync.blocked ? `; BLOCKED ${r.sync.blocked.code}: ${r.sync.blocked.reason}` : ''}`,
  );
  lines.push(deidLine(r.deid));
  const h = r.deid.holding;
  if (h !== undefined)
    lines.push(
      `de-id hold   ${h.mode}: ${h.heldFrames} frames held (${mib(h.heldBytes)} of ${mib(h.budgetBytes)}, drops ${h.drop} when full), ${h.blurredLate} blurred late (max ${(Number(BigInt(h.maxDelayNs)) / 1e9).toFixed(1)} s), lost ${Object.values(h.lost).reduce((n, c) => n + c, 0)}`,
    );
  for (const e of r.recentErrors.slice(-5)) lines.push(`error        ${e.at} ${e.code}: ${e.message}`);
  return `${lines.join('\n')}\n`;
}

const command: Command = {
  name: 'status',
  summary: 'streams, drops by cause, clock state, disk budget, sync backlog, last receipt',
  usage: [
    'usage: rigcap status [--config FILE | --url URL] [--json]',
    '  asks the running agent on its ops endpoint (ops.listen); when none answers, reads the spool catalog',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseFlags('status', argv, {
      config: { type: 'string' },
      url: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const live = await fetchSnapshot(opsBaseUrl(values, io));
    let report: StatusReport;
    if (live !== undefined) report = { ...live, running: true, source: 'agent' };
    else {
      const file = configPath(values, io);
      if (file === undefined)
        throw new RigcapError(
          'RIGCAP_AGENT_UNREACHABLE',
          'no agent answered and no config names a spool; pass --config FILE',
        );
      const { config } = loadConfigFile(file);
      report = {
        ...spoolSnapshot(config.spool.dir, config.spool.budgetBytes),
        running: false,
        source: 'spool',
      };
    }
    if (values.json) writeJson(io.stdout, report);
    else io.stdout.write(formatStatus(report));
    return ExitCode.ok;
  },
};

export default command;
