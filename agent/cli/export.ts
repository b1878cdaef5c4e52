// `rigcap export SESSION --format intoto|prov|card --out FILE [--spool DIR]`: non-proprietary exports.
import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { RigcapError } from '../errors.ts';
import { FsSource } from '../keys/index.ts';
import {
  croissantRai,
  datasetCard,
  gatherSession,
  intotoBundle,
  provDocument,
  sessionFacts,
  type DecodedRecord,
} from '../records/index.ts';
import { readChains as readChainsFrom } from '../records/read-chains.ts';
import { logProofLine } from '../records/bundle-proofs.ts';
import { storeLogProofs } from './export-proofs.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type Command } from './command.ts';

const usage = `usage: rigcap export SESSION --format intoto|prov|card --out FILE [--spool DIR] [--log-proofs] [--json]

  intoto   JSON Lines bundle of the session's DSSE envelopes (device keys, open, chunks, markers, close, receipts)
  prov     W3C PROV-JSON (entities: chunks, calibrations, models; activities: capture, de-identification, sync;
           agents: device, operator, store)
  card     Markdown dataset card at FILE plus a Croissant-RAI JSON-LD file beside it (FILE without .md + .croissant.jsonld)

  --spool DIR   spool or store root (default: the current folder)
  --log-proofs  intoto from a store's data directory: carry the store's signed checkpoint and an
                inclusion proof for every record, so \`rigcap verify FILE\` checks them offline`;

/** Decoded chains of every signer under a spool or store root. */
function readChains(root: string): Promise<Map<string, DecodedRecord[]>> {
  return readChainsFrom(new FsSource(root));
}

const command: Command = {
  name: 'export',
  summary: 'export a session as an in-toto bundle, W3C PROV-JSON or a dataset card (Croissant-RAI)',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseFlags('export', argv, {
      format: { type: 'string' },
      out: { type: 'string' },
      spool: { type: 'string' },
      'log-proofs': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const sessionId = positionals[0];
    if (positionals.length !== 1 || sessionId === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap export: expected exactly one SESSION id');
    if (values.format !== 'intoto' && values.format !== 'prov' && values.format !== 'card') {
      throw new RigcapError('RIGCAP_USAGE', 'rigcap export: --format must be intoto, prov or card');
    }
    if (values.out === undefined)
      throw new RigcapError('RIGCAP_USAGE', 'rigcap export: --out FILE is required');
    const root = resolve(io.cwd, values.spool ?? '.');
    const out = resolve(io.cwd, values.out);
    const session = gatherSession(sessionId, await readChains(root));
    if (session === undefined)
      throw new RigcapError('RIGCAP_NOT_FOUND', `no records of session ${sessionId} under ${root}`);
    const files = [out];
    if (values.format === 'intoto') {
      const proofs = values['log-proofs'] === true ? await storeLogProofs(root, session) : [];
      await writeFile(out, `${intotoBundle(session)}${proofs.map((p) => `${logProofLine(p)}\n`).join('')}`);
    } else if (values.format === 'prov') {
      await writeFile(out, `${JSON.stringify(provDocument(session), null, 2)}\n`);
    } else {
      const croissant = `${out.replace(/\.md$/, '')}.croissant.jsonld`;
      const facts = sessionFacts(session);
      await writeFile(out, datasetCard(facts, { croissantFile: basename(croissant) }));
      await writeFile(croissant, `${JSON.stringify(croissantRai(facts), null, 2)}\n`);
      files.push(croissant);
    }
    if (values.json === true)
      writeJson(io.stdout, {
        ok: true,
        session: sessionId,
        format: values.format,
        files,
        chunks: session.chunks.length,
      });
    else
      io.stderr.write(
        `exported session ${sessionId} (${session.chunks.length} chunks) as ${values.format}: ${files.join(', ')}\n`,
      );
    return ExitCode.ok;
  },
};

export default command;
