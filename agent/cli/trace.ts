// `rigcap trace PATH --session S --topic T --at NS [--json]` (or `--chunk SHA256`): the conditions of
// one sample, every field from signed records, answered only once those records (and the chunk
// file, when PATH holds it) verify.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError, errnoCode } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import {
  describeGap,
  formatDuration,
  gatherSession,
  isSha256Hex,
  type DecodedRecord,
  type SessionRecords,
  type VerifyFailure,
  verifyBundle,
} from '../records/index.ts';
import {
  chainFileFailures,
  chunkFileFailures,
  sessionRecordFailures,
  traceSample,
  type ChunkFileEvidence,
  type TraceAnswer,
  type TraceQuery,
} from '../records/trace.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';
import { chainsOfBundle, chainsOfTree } from './readiness.ts';

const usage = `usage: rigcap trace PATH --session S --topic T --at NS [--window SECONDS] [--json]
       rigcap trace PATH --chunk SHA256 [--topic T] [--at NS] [--window SECONDS] [--json]

  PATH      a spool, a store, or an exported in-toto bundle (rigcap export … --format intoto)
  --at      the sample's capture time: wall-clock nanoseconds, or an ISO 8601 UTC time
  --chunk   the chunk's SHA-256 instead of session, topic and time
  --window  markers, gaps and stream counts this far either side of the instant (default 60)

Answers from signed records only: the device and key, calibrations in force, clock state at that
instant, de-id models and parameters, stream counts and loss around it, markers nearby, custody
receipts and log indexes. The session's records (and the chunk file, when PATH holds it) are
verified first: a failure exits 1 with RIGCAP_TRACE_UNVERIFIED and gives no answer. Unknown
session, malformed time or nothing at that instant: exit 2.`;

/** Wall-clock ns from a decimal string or an ISO 8601 time with a zone; RIGCAP_USAGE otherwise. */
export function parseInstant(text: string): bigint {
  if (/^[0-9]{1,20}$/.test(text)) return BigInt(text);
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  const ms = iso === null ? Number.NaN : Date.parse(text.replace(/\.\d+/, ''));
  if (iso === null || Number.isNaN(ms))
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap trace: --at ${JSON.stringify(text)} is neither nanoseconds nor an ISO 8601 time with a zone`,
    );
  const frac = (iso[2] ?? '').padEnd(9, '0');
  return BigInt(ms) * 1_000_000n + BigInt(frac === '' ? '0' : frac);
}

async function sha256OfFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of new FsSource('').stream(path)) {
    hash.update(piece);
    bytes += piece.byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function deletedByRetention(
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
  sessionId: string,
  name: string,
): boolean {
  for (const records of chains.values())
    for (const r of records)
      if (
        r.name === 'retention-action' &&
        r.predicate.deleted.some((d) => d.session === sessionId && d.name === name)
      )
        return true;
  return false;
}

async function chunkEvidence(
  root: string | undefined,
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
  s: SessionRecords,
  chunk: DecodedRecord,
): Promise<ChunkFileEvidence> {
  if (root === undefined) return { kind: 'not-in-bundle' };
  const name = chunk.subject[0]?.name ?? '';
  const source = new FsSource(root);
  const rel = `sessions/${s.sessionId}/${name}`;
  if ((await source.size(rel)) === undefined)
    return { kind: 'absent', deletedByRetention: deletedByRetention(chains, s.sessionId, name) };
  const { sha256, bytes } = await sha256OfFile(resolve(root, rel));
  return { kind: 'present', sha256, bytes, sidecar: await source.readFile(`${rel}.dsse.json`) };
}

/** The session named by --session, or the one whose chunk --chunk names. */
function sessionOf(
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
  abs: string,
  session: string | undefined,
  chunkSha: string | undefined,
): SessionRecords {
  let sessionId = session;
  if (sessionId === undefined && chunkSha !== undefined)
    for (const records of chains.values())
      for (const r of records)
        if (r.name === 'capture-chunk' && r.subject[0]?.digest.sha256 === chunkSha)
          sessionId = r.predicate['sessionId'] as string;
  if (sessionId === undefined)
    throw new RigcapError('RIGCAP_TRACE_NOT_FOUND', `no chunk record under ${abs} signs ${chunkSha ?? ''}`);
  const s = gatherSession(sessionId, chains);
  if (s === undefined)
    throw new RigcapError('RIGCAP_SESSION_UNKNOWN', `no records of session ${sessionId} under ${abs}`);
  return s;
}

/** Record files of the device under a tree that did not decode, or a hole in its chain. */
async function treeChainFailures(
  root: string,
  deviceId: string,
  chains: ReadonlyMap<string, readonly DecodedRecord[]>,
): Promise<VerifyFailure[]> {
  const names = await new FsSource(root).list(`records/${deviceId}`);
  const decoded = new Set(
    (chains.get(deviceId) ?? []).filter((r) => r.chain.deviceId === deviceId).map((r) => r.chain.seq),
  );
  return chainFileFailures(deviceId, names, decoded);
}

/** Prints the failures and refuses with RIGCAP_TRACE_UNVERIFIED (exit 1) when there are any. */
function refuseOn(io: CliIO, failures: readonly VerifyFailure[]): void {
  if (failures.length === 0) return;
  for (const f of failures) io.stderr.write(`${f.code} ${f.file}: ${f.reason}\n`);
  throw new RigcapError(
    'RIGCAP_TRACE_UNVERIFIED',
    `${failures.length} verify failure(s) in the records or chunk behind this sample; no answer given`,
    { details: { failures } },
  );
}

const iso = (ns: string): string => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

function human(a: TraceAnswer, fileNote: string): string {
  const out: string[] = [];
  const line = (s: string): void => {
    out.push(s);
  };
  line(
    `${a.sample.topic ?? 'chunk'}${a.sample.atNs === null ? '' : ` at ${a.sample.atNs} ns (${iso(a.sample.atNs)})`}`,
  );
  line(`  session   ${a.sessionId}`);
  line(
    `  chunk     ${a.chunk.name} #${a.chunk.chunkIndex} sha256 ${a.chunk.sha256} (${fileNote}); ` +
      `record ${a.chunk.record.signer} seq ${a.chunk.record.seq}`,
  );
  if (a.chunk.alsoIn.length > 0) line(`            the instant is also in ${a.chunk.alsoIn.join(', ')}`);
  line(
    `  device    ${a.device.deviceId} (rig ${a.device.rigId ?? '?'}), boot ${a.device.bootId}, key ${a.device.keyId.slice(0, 16)}…` +
      `${a.device.keyRecord === null ? '' : ` (enrolled at seq ${a.device.keyRecord.seq})`}`,
  );
  line(
    `            rigcap ${a.device.producer.rigcapVersion}, config ${a.device.producer.configDigest.slice(0, 16)}…; ` +
      `policy owner ${a.device.policy.owner ?? '-'}, purpose ${a.device.policy.purpose}, residency ${a.device.policy.residency}`,
  );
  line(
    `  clock     ${a.clock.state} (${a.clock.source})${a.clock.interval === null ? '' : ` from ${iso(a.clock.interval.startNs)} to ${iso(a.clock.interval.endNs)}`}` +
      `${a.clock.offsetNs === null ? '' : `, offset mean ${a.clock.offsetNs.mean} ns, max ${a.clock.offsetNs.max} ns`}` +
      `${a.clock.stepsNearby.length === 0 ? '' : `, ${a.clock.stepsNearby.length} step(s) nearby`}`,
  );
  if (a.calibration.length === 0) line('  calib     none in this chunk');
  for (const c of a.calibration)
    line(
      `  calib     ${c.sensor} v${c.version} ${c.digest.slice(0, 16)}… since chunk ${c.inForceSinceChunk}${c.coversTopic ? ' (this topic)' : ''}`,
    );
  if (a.deid.length === 0) line('  de-id     no de-identification lineage in this chunk');
  for (const d of a.deid) {
    const models = Array.isArray(d['models'])
      ? (d['models'] as Array<{ name?: string; sha256?: string }>)
          .map((m) => `${m.name ?? '?'} ${(m.sha256 ?? '').slice(0, 12)}…`)
          .join(', ')
      : '';
    line(
      `  de-id     ${d.appliesToTopic ? 'applied to this topic' : 'not applied to this topic'}; models ${models || '-'}; ` +
        `params ${String(d['paramsDigest'] ?? '-').slice(0, 16)}…; frames ${JSON.stringify(d['frames'] ?? {})}`,
    );
  }
  for (const t of a.around.topic) {
    const drops = Object.entries(t.drops).map(([k, n]) => `${k} ${n}`);
    line(
      `  stream    chunk ${t.chunkIndex}: ${t.count} samples${drops.length > 0 ? `, dropped ${drops.join(', ')}` : ''}${t.upstreamLoss > 0 ? `, upstream loss ${t.upstreamLoss}` : ''}`,
    );
  }
  const windowNs = (BigInt(a.around.toNs) - BigInt(a.around.fromNs)) / 2n;
  if (a.around.gaps.length === 0) line(`  gaps      none within ${formatDuration(windowNs)}`);
  for (const g of a.around.gaps) line(`  gap       ${describeGap(g)}`);
  if (a.markers.length === 0) line(`  markers   none within ${formatDuration(windowNs)}`);
  for (const m of a.markers)
    line(`  marker    ${iso(m.atNs)} ${m.label}${m.note === '' ? '' : ` [${m.note}]`} (seq ${m.record.seq})`);
  if (a.receipts.length === 0) line('  receipt   none (the chunk has no custody receipt in PATH)');
  for (const r of a.receipts)
    line(
      `  receipt   ${r.storeId} seq ${r.record.seq}, log index ${r.log.index} of ${r.log.size}, root ${r.log.root.slice(0, 16)}…, received ${iso(r.receivedWallNs)} (${r.signature})`,
    );
  return `${out.join('\n')}\n`;
}

const command: Command = {
  name: 'trace',
  summary:
    'the conditions of one sample (device, calibration, clock, de-id, loss, markers, receipt), verified',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('trace', argv, {
      session: { type: 'string' },
      topic: { type: 'string' },
      at: { type: 'string' },
      chunk: { type: 'string' },
      window: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [path] = positionals;
    if (positionals.length !== 1 || path === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap trace: expected exactly one PATH');
    const windowS = values.window === undefined ? 60 : Number(values.window);
    if (!Number.isFinite(windowS) || windowS < 0)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap trace: --window must be a number of seconds ≥ 0');
    const aroundNs = BigInt(Math.round(windowS * 1e9));
    const atNs = values.at === undefined ? undefined : parseInstant(values.at);
    const chunkSha = values.chunk?.toLowerCase();
    if (chunkSha !== undefined && !isSha256Hex(chunkSha))
      throw new RigcapError('RIGCAP_USAGE', 'rigcap trace: --chunk must be a lowercase hex SHA-256');
    if (
      chunkSha === undefined &&
      (values.session === undefined || values.topic === undefined || atNs === undefined)
    )
      throw new RigcapError('RIGCAP_USAGE', 'rigcap trace: give --session, --topic and --at, or --chunk');

    const abs = resolve(io.cwd, path);
    const info = await stat(abs).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT')
        throw new RigcapError('RIGCAP_USAGE', `rigcap trace: ${abs} does not exist`);
      throw err;
    });
    const root = info.isDirectory() ? abs : undefined;
    const bundle = root === undefined ? await readFile(abs) : undefined;
    const chains = bundle === undefined ? await chainsOfTree(abs) : chainsOfBundle(bundle);
    const s = sessionOf(chains, abs, values.session, chunkSha);
    // The session's records verify before anything is read from them.
    refuseOn(io, [
      ...sessionRecordFailures(s),
      ...(bundle === undefined
        ? await treeChainFailures(abs, s.deviceId, chains)
        : verifyBundle(bundle).failures.map((f) => ({ ...f, file: `${path}: ${f.file}` }))),
    ]);

    const query: TraceQuery =
      chunkSha !== undefined
        ? {
            kind: 'chunk',
            sha256: chunkSha,
            aroundNs,
            ...(values.topic === undefined ? {} : { topic: values.topic }),
            ...(atNs === undefined ? {} : { atNs }),
          }
        : { kind: 'sample', topic: values.topic!, atNs: atNs!, aroundNs };
    const result = traceSample(s, query);
    if (!result.ok) throw new RigcapError('RIGCAP_TRACE_NOT_FOUND', result.reason);
    const evidence = await chunkEvidence(root, chains, s, result.chunkRecord);
    refuseOn(io, chunkFileFailures(s, result.chunkRecord, evidence));
    const chunkFile =
      evidence.kind === 'present'
        ? 'hash verified'
        : evidence.kind === 'absent'
          ? 'deleted by a signed retention action'
          : 'chunk file not in a bundle';
    if (values.json === true)
      writeJson(io.stdout, { ok: true, verified: { records: true, chunkFile }, ...result.answer });
    else io.stdout.write(human(result.answer, chunkFile));
    return ExitCode.ok;
  },
};

export default command;
