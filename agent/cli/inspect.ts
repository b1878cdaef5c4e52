// `rigcap inspect FILE`: what is inside an MCAP chunk or a signed record, without verifying it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { RigcapError } from '../errors.ts';
import { withIndexedReader } from '../pipeline/mcap-read.ts';
import { parseFlags, writeJson } from './args.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

interface ChannelSummary {
  id: number;
  topic: string;
  schema: string;
  messageEncoding: string;
  messages: number;
  metadata: Record<string, string>;
}

/** Summary of one MCAP file from its summary section. */
export async function summariseMcap(path: string): Promise<Record<string, unknown>> {
  return withIndexedReader(path, async (reader) => {
    const stats = reader.statistics;
    const channels: ChannelSummary[] = [...reader.channelsById.values()].map((ch) => ({
      id: ch.id,
      topic: ch.topic,
      schema: reader.schemasById.get(ch.schemaId)?.name ?? '(none)',
      messageEncoding: ch.messageEncoding,
      messages: Number(stats?.channelMessageCounts.get(ch.id) ?? 0n),
      metadata: Object.fromEntries(ch.metadata),
    }));
    const attachments = [];
    for (const idx of reader.attachmentIndexes) {
      attachments.push({ name: idx.name, mediaType: idx.mediaType, bytes: Number(idx.dataSize) });
    }
    const metadata: Record<string, Record<string, string>> = {};
    for await (const m of reader.readMetadata()) metadata[m.name] = Object.fromEntries(m.metadata);
    const compression = [...new Set(reader.chunkIndexes.map((c) => c.compression || 'none'))];
    const sidecar = `${path}.dsse.json`;
    return {
      file: basename(path),
      bytes: readFileSync(path).byteLength,
      sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
      profile: reader.header.profile,
      library: reader.header.library,
      messages: Number(stats?.messageCount ?? 0n),
      startNs: String(stats?.messageStartTime ?? 0n),
      endNs: String(stats?.messageEndTime ?? 0n),
      chunks: reader.chunkIndexes.length,
      compression,
      channels,
      attachments,
      metadata,
      record: existsSync(sidecar) ? summariseRecordFile(sidecar)[0] : null,
    };
  });
}

/** Decodes the DSSE envelopes in a `.dsse.json` file (one, or JSON Lines). */
export function summariseRecordFile(path: string): Array<Record<string, unknown>> {
  const text = readFileSync(path, 'utf8');
  const lines =
    text.trim().startsWith('{') && text.trim().split('\n').length > 1 ? text.trim().split('\n') : [text];
  return lines.map((line, i) => {
    let env: { payloadType?: string; payload?: string; signatures?: Array<{ keyid?: string }> };
    try {
      env = JSON.parse(line) as typeof env;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new RigcapError('RIGCAP_NOT_FOUND', `${path}: line ${i + 1} is not JSON`);
    }
    const statement = JSON.parse(Buffer.from(env.payload ?? '', 'base64').toString('utf8')) as {
      predicateType?: string;
      subject?: unknown;
      predicate?: { chain?: unknown };
    };
    return {
      payloadType: env.payloadType,
      keyids: (env.signatures ?? []).map((s) => s.keyid),
      predicateType: statement.predicateType,
      subject: statement.subject,
      chain: statement.predicate?.chain,
      predicate: statement.predicate,
    };
  });
}

function printMcap(io: CliIO, s: Record<string, unknown>): void {
  const out: string[] = [];
  out.push(`${String(s['file'])}  ${String(s['bytes'])} bytes  sha256 ${String(s['sha256'])}`);
  out.push(
    `profile ${String(s['profile'])}, ${String(s['messages'])} messages in ${String(s['chunks'])} chunks (${(s['compression'] as string[]).join(', ')})`,
  );
  const start = BigInt(String(s['startNs']));
  const end = BigInt(String(s['endNs']));
  out.push(
    `time ${new Date(Number(start / 1_000_000n)).toISOString()} .. ${new Date(Number(end / 1_000_000n)).toISOString()} (${Number(end - start) / 1e9} s)`,
  );
  out.push('channels:');
  for (const c of s['channels'] as ChannelSummary[]) {
    out.push(
      `  ${c.topic.padEnd(36)} ${c.schema.padEnd(34)} ${String(c.messages).padStart(7)}${c.metadata['latched'] === 'true' ? '  latched' : ''}`,
    );
  }
  const att = s['attachments'] as Array<{ name: string; bytes: number }>;
  if (att.length > 0) out.push(`attachments: ${att.map((a) => `${a.name} (${a.bytes} B)`).join(', ')}`);
  const meta = s['metadata'] as Record<string, Record<string, string>>;
  for (const [name, kv] of Object.entries(meta)) out.push(`metadata ${name}: ${JSON.stringify(kv)}`);
  const rec = s['record'] as Record<string, unknown> | null;
  out.push(
    rec === null
      ? 'record: none (unsigned)'
      : `record: ${String(rec['predicateType'])} seq ${String((rec['chain'] as { seq?: number } | undefined)?.seq)}`,
  );
  io.stdout.write(`${out.join('\n')}\n`);
}

const command: Command = {
  name: 'inspect',
  summary: 'summary of an MCAP chunk or a signed record',
  usage: 'usage: rigcap inspect FILE [--json]\n  FILE: a chunk (*.mcap) or a record (*.dsse.json)',
  async run(argv, io) {
    const { values, positionals } = parseFlags('inspect', argv, {
      json: { type: 'boolean', default: false },
    });
    const file = positionals[0];
    if (file === undefined) throw new RigcapError('RIGCAP_USAGE', 'rigcap inspect: name a FILE');
    if (!existsSync(file)) throw new RigcapError('RIGCAP_NOT_FOUND', `${file} does not exist`);
    if (file.endsWith('.dsse.json')) {
      const records = summariseRecordFile(file);
      if (values.json) writeJson(io.stdout, records.length === 1 ? records[0] : records);
      else for (const r of records) io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return ExitCode.ok;
    }
    const summary = await summariseMcap(file);
    if (values.json) writeJson(io.stdout, summary);
    else printMcap(io, summary);
    return ExitCode.ok;
  },
};

export default command;
