// An exported in-toto bundle verifies on its own (no spool), and tampering with it is caught.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { standardSpool, type FixtureSpool } from './spool-fixture.ts';

let spool: FixtureSpool;
let dir: string;
let bundle: string;

beforeAll(async () => {
  spool = await standardSpool({ deviceId: 'rig-a' });
  await spool.sealer.close();
  dir = await mkdtemp(join(tmpdir(), 'rigcap-bundle-'));
  bundle = join(dir, 's1.intoto.jsonl');
  const run = await runCli(['export', 's1', '--format', 'intoto', '--out', bundle, '--spool', spool.rootDir]);
  expect(run.code, run.stderr).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function verify(
  file: string,
  extra: string[] = [],
): Promise<{
  code: number;
  report: {
    ok: boolean;
    checked: { chunks: number; sessions: number };
    failures: Array<{ code: string; file: string }>;
  };
}> {
  const run = await runCli(['verify', file, '--json', ...extra]);
  return { code: run.code, report: JSON.parse(run.stdout) as never };
}

describe('rigcap verify on an exported bundle', () => {
  it('verifies the untouched bundle: signatures, keys from its own device-key records, session root', async () => {
    const { code, report } = await verify(bundle);
    expect(report.failures).toEqual([]);
    expect(code).toBe(0);
    expect(report.checked.chunks).toBeGreaterThan(0);
    expect(report.checked.sessions).toBe(1);
  });

  it('catches a dropped chunk record (session root) and an edited envelope (signature)', async () => {
    const lines = (await readFile(bundle, 'utf8')).trim().split('\n');
    const chunkLine = lines.findIndex((l) =>
      Buffer.from((JSON.parse(l) as { payload: string }).payload, 'base64')
        .toString()
        .includes('capture-chunk/v'),
    );
    const dropped = join(dir, 'dropped.jsonl');
    await writeFile(dropped, `${lines.filter((_, i) => i !== chunkLine).join('\n')}\n`);
    const a = await verify(dropped);
    expect(a.code).toBe(1);
    expect(a.report.failures.map((f) => f.code)).toContain('VERIFY_SESSION_ROOT');

    const env = JSON.parse(lines[chunkLine]!) as { payload: string };
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
      predicate: { policy: { purpose: string } };
    };
    statement.predicate.policy.purpose = 'something else';
    const { canonicalText } = await import('../../../agent/records/index.ts');
    env.payload = Buffer.from(canonicalText(statement)).toString('base64');
    const edited = join(dir, 'edited.jsonl');
    await writeFile(
      edited,
      `${lines.map((l, i) => (i === chunkLine ? JSON.stringify(env) : l)).join('\n')}\n`,
    );
    const b = await verify(edited);
    expect(b.code).toBe(1);
    expect(b.report.failures.find((f) => f.file === `line ${chunkLine + 1}`)?.code).toMatch(
      /VERIFY_(BAD_SIGNATURE|MALFORMED)/,
    );
  });

  it('with --trust, refuses a bundle whose keys are not rooted in the trusted keys', async () => {
    const { generateKeyPair } = await import('../../../agent/records/index.ts');
    const other = join(dir, 'other.pem');
    await writeFile(other, generateKeyPair().publicKeyPem);
    const { code, report } = await verify(bundle, ['--trust', other]);
    expect(code).toBe(1);
    expect(report.failures.map((f) => f.code)).toContain('VERIFY_UNKNOWN_KEY');
    const own = join(dir, 'own.pem');
    await writeFile(own, await readFile(join(spool.rootDir, 'keys', 'rig-a.pub.pem')));
    expect((await verify(bundle, ['--trust', own])).code).toBe(0);
  });
});
