import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FsSource } from '../../../agent/keys/fs-source.ts';
import { withIndexedReader } from '../../../agent/pipeline/mcap-read.ts';
import { verifyTree } from '../../../agent/records/index.ts';
import { runCli } from '../../support/cli.ts';

const bag = join(import.meta.dirname, '../../fixtures/ros2/talker.mcap');

interface Msg {
  topic: string;
  schema: string;
  schemaData: string;
  logTime: bigint;
  data: string;
}

async function messagesOf(file: string): Promise<Msg[]> {
  return withIndexedReader(file, async (reader) => {
    const out: Msg[] = [];
    for await (const m of reader.readMessages()) {
      const ch = reader.channelsById.get(m.channelId)!;
      const schema = reader.schemasById.get(ch.schemaId)!;
      out.push({
        topic: ch.topic,
        schema: schema.name,
        schemaData: Buffer.from(schema.data).toString('base64'),
        logTime: m.logTime,
        data: Buffer.from(m.data).toString('base64'),
      });
    }
    return out.sort((a, b) =>
      a.topic === b.topic ? Number(a.logTime - b.logTime) : a.topic < b.topic ? -1 : 1,
    );
  });
}

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('rigcap ingest', () => {
  it('re-processes a real ROS 2 recording into a signed spool, every message byte for byte', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-ingest-'));
    const spool = join(dir, 'spool');
    const run = await runCli(['ingest', bag, '--out', spool, '--keys', join(dir, 'secrets'), '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      sessions: Array<{ sessionId: string; sha256: string; chunks: number }>;
    };
    const session = result.sessions[0]!;
    expect(session.chunks).toBeGreaterThan(0);

    const files = (await readdir(join(spool, 'sessions', session.sessionId))).filter((f) =>
      f.endsWith('.mcap'),
    );
    const written: Msg[] = [];
    for (const f of files) written.push(...(await messagesOf(join(spool, 'sessions', session.sessionId, f))));
    const source = await messagesOf(bag);
    expect(source.length).toBeGreaterThan(0);
    // Same topics, schemas (text included), times and payload bytes; nothing added, nothing lost.
    expect(written.map((m) => ({ ...m }))).toEqual(source);

    const report = await verifyTree(new FsSource(spool));
    expect(report.failures).toEqual([]);
    expect(report.ok).toBe(true);
    // The record names the source recording by digest.
    const sidecar = await import('node:fs').then((fs) =>
      fs.readFileSync(join(spool, 'sessions', session.sessionId, `${files[0]!}.dsse.json`), 'utf8'),
    );
    const statement = JSON.parse(
      Buffer.from((JSON.parse(sidecar) as { payload: string }).payload, 'base64').toString('utf8'),
    ) as { predicate: { transforms: Array<{ kind: string; source?: { sha256: string } }> } };
    expect(statement.predicate.transforms.find((t) => t.kind === 'ingest')?.source?.sha256).toBe(
      session.sha256,
    );
  });

  it('refuses a missing recording with a stable code', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rigcap-ingest-'));
    const missing = await runCli(['ingest', join(dir, 'nope.mcap'), '--out', join(dir, 's')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('RIGCAP_NOT_FOUND');
    const usage = await runCli(['ingest', bag]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('RIGCAP_USAGE');
  });
});
