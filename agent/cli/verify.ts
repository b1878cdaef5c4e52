// `rigcap verify PATH [--trust FILE] [--json]`: offline verification of a spool, store or export.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RigcapError, errnoCode } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import { spkiBlocksOfPem, verifyBundle, verifyTree, type VerifyReport } from '../records/index.ts';
import type { DecodedRecord } from '../records/record-decode.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap verify PATH [--trust FILE] [--blobs DIR] [--json]

Verifies a spool or store offline: chunk digests, signatures, key validity, chain continuity,
session roots, sidecars, calibration attachments. PATH is the folder that holds records/,
sessions/ and keys/, or an in-toto bundle from \`rigcap export --format intoto\` (its envelopes,
signatures, keys from its device-key records, links between adjacent seqs and session roots).

  --trust FILE   PEM file of public keys trusted as roots (without it, keys in PATH are taken as given)
  --blobs DIR    with a dataset release (\`rigcap release create\`): re-derive its root and check
                 every chunk it names against the blobs in DIR (a store's blobs/sha256/ or a flat folder)
  --json         print { ok, checked, failures: [{ file, code, reason }], trust } on stdout

exit: 0 verified, 1 failures found, 2 usage error`;

/** Draws a one-line progress bar on a TTY; silent elsewhere. */
function progressBar(stream: CliIO['stderr']): { update(done: number, total: number): void; end(): void } {
  if (stream.isTTY !== true) return { update: () => undefined, end: () => undefined };
  let last = -1;
  return {
    update(done, total) {
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const filled = Math.round((pct / 100) * width);
      stream.write(
        `\rverifying [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% (${done}/${total})`,
      );
    },
    end() {
      if (last >= 0) stream.write('\n');
    },
  };
}

async function loadTrust(file: string): Promise<Uint8Array[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RigcapError(
      'RIGCAP_USAGE',
      `rigcap verify: cannot read --trust ${file} (${errnoCode(err) ?? String(err)})`,
    );
  }
  const keys = spkiBlocksOfPem(text);
  if (keys.length === 0)
    throw new RigcapError('RIGCAP_USAGE', `rigcap verify: --trust ${file} holds no PUBLIC KEY blocks`);
  return keys;
}

function printHuman(report: VerifyReport, io: CliIO): void {
  const { checked } = report;
  const lines = [
    `${report.ok ? 'OK' : 'FAILED'}: ${checked.chunks} chunks, ${checked.records} records, ${checked.sessions} sessions checked`,
  ];
  if (report.trust === 'given')
    lines.push('trust: keys found under PATH taken as given (pass --trust FILE to pin roots)');
  for (const f of report.failures) lines.push(`  ${f.code}  ${f.file}: ${f.reason}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

/** A dataset release checked against a blob folder, as a verify report. */
async function verifyReleaseFile(
  file: string,
  blobsDir: string,
  trustedKeys: Uint8Array[] | undefined,
): Promise<VerifyReport> {
  const { verifyRelease } = await import('../records/release.ts');
  const readBlob = async (sha256: string): Promise<Uint8Array | undefined> => {
    for (const path of [join(blobsDir, 'blobs', 'sha256', sha256), join(blobsDir, sha256)]) {
      try {
        return new Uint8Array(await readFile(path));
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
      }
    }
    return undefined;
  };
  const r = await verifyRelease(
    await readFile(file, 'utf8'),
    readBlob,
    trustedKeys === undefined ? {} : { trustedKeys },
  );
  return {
    ok: r.ok,
    checked: { chunks: r.chunks, records: 1, sessions: 0 },
    failures: r.failures,
    trust: trustedKeys === undefined ? 'given' : 'pinned',
    signers: [],
  };
}

/** An in-toto bundle: its envelopes, and the log proofs it carries when exported with them. */
async function verifyBundleFile(file: string, trustedKeys: Uint8Array[] | undefined): Promise<VerifyReport> {
  const { checkLogProofs, splitBundle } = await import('../records/bundle-proofs.ts');
  const { decodeRecord } = await import('../records/record-decode.ts');
  const { envelopes, proofs } = splitBundle(new Uint8Array(await readFile(file)));
  const report = verifyBundle(envelopes, trustedKeys === undefined ? {} : { trustedKeys });
  if (proofs.length === 0) return report;
  const lines = new Map<DecodedRecord, string>();
  new TextDecoder()
    .decode(envelopes)
    .split('\n')
    .forEach((raw, i) => {
      const decoded = raw.trim() === '' ? undefined : decodeRecord(new TextEncoder().encode(`${raw}\n`));
      if (decoded?.ok === true) lines.set(decoded.record, `line ${i + 1}`);
    });
  const failures = checkLogProofs([...lines.keys()], proofs, (r) => lines.get(r) ?? 'line 0');
  return { ...report, ok: report.ok && failures.length === 0, failures: [...report.failures, ...failures] };
}

const command: Command = {
  name: 'verify',
  summary: 'verify a spool or store offline (digests, signatures, chain, sessions)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('verify', argv, {
      trust: { type: 'string' },
      blobs: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap verify: expected exactly one PATH');
    const root = resolve(io.cwd, positionals[0] as string);
    const info = await stat(root).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
      return undefined;
    });
    if (info === undefined || (!info.isDirectory() && !info.isFile()))
      throw new RigcapError('RIGCAP_NOT_FOUND', `rigcap verify: ${root} does not exist`);
    const trustedKeys =
      values.trust === undefined ? undefined : await loadTrust(resolve(io.cwd, values.trust));
    let report: VerifyReport;
    if (info.isFile() && values.blobs !== undefined) {
      report = await verifyReleaseFile(root, resolve(io.cwd, values.blobs), trustedKeys);
    } else if (info.isFile()) {
      // An exported in-toto bundle (`rigcap export --format intoto`): its envelopes on their own.
      report = await verifyBundleFile(root, trustedKeys);
    } else {
      const bar = progressBar(io.stderr);
      report = await verifyTree(new FsSource(root), {
        ...(trustedKeys === undefined ? {} : { trustedKeys }),
        onProgress: ({ done, total }) => bar.update(done, total),
      });
      bar.end();
    }
    if (values.json === true) {
      writeJson(io.stdout, {
        ok: report.ok,
        checked: report.checked,
        failures: report.failures,
        trust: report.trust,
        signers: report.signers,
      });
    } else {
      printHuman(report, io);
    }
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
};

export default command;
