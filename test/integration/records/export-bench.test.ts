import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import exportCommand from '../../../agent/cli/export.ts';
import verifyCommand from '../../../agent/cli/verify.ts';
import type { CliIO } from '../../../agent/cli/command.ts';
import { silentLogger } from '../../../agent/log.ts';
import { measureSignCost } from '../../../scripts/bench/sign-bench.ts';
import { decodeRecord } from '../../../agent/records/index.ts';
import { standardSpool, type FixtureSpool } from './spool-fixture.ts';

function io(cwd: string): CliIO & { out: () => string } {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  return {
    stdout,
    stderr: new PassThrough(),
    env: {},
    cwd,
    signal: new AbortController().signal,
    out: () => Buffer.concat(chunks).toString('utf8'),
  };
}

let spool: FixtureSpool;
beforeAll(async () => {
  spool = await standardSpool({ deviceId: 'rig-e' });
  await spool.sealer.close();
});

describe('rigcap verify (command)', () => {
  it('prints the JSON document and exits 0 / 1 / 2', async () => {
    const ok = io(spool.rootDir);
    expect(await verifyCommand.run(['.', '--json'], ok)).toBe(0);
    expect(JSON.parse(ok.out())).toMatchObject({
      ok: true,
      checked: { chunks: 5, records: 10, sessions: 2 },
      failures: [],
      trust: 'given',
    });
    const missingTrust = io(spool.rootDir);
    await expect(verifyCommand.run(['.', '--trust', 'nope.pem'], missingTrust)).rejects.toMatchObject({
      code: 'RIGCAP_USAGE',
    });
    const pinned = io(spool.rootDir);
    expect(await verifyCommand.run(['.', '--json', '--trust', 'keys/rig-e.pub.pem'], pinned)).toBe(0);
    expect(JSON.parse(pinned.out())).toMatchObject({ trust: 'pinned' });
  });
});

describe('rigcap export', () => {
  it('intoto: one verifiable envelope per line, keys first and close last', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'rigcap-export-')), 's1.intoto.jsonl');
    expect(
      await exportCommand.run(
        ['s1', '--format', 'intoto', '--out', out, '--spool', spool.rootDir],
        io(spool.rootDir),
      ),
    ).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    const decoded = lines.map((l) => decodeRecord(new TextEncoder().encode(`${l}\n`)));
    expect(decoded.every((d) => d.ok)).toBe(true);
    expect(decoded.map((d) => (d.ok ? d.record.name : ''))).toEqual([
      'device-key',
      'session',
      'capture-chunk',
      'capture-chunk',
      'capture-chunk',
      'session',
    ]);
  });

  it('prov: chunks, calibrations and models as entities; capture and de-id as activities; the device as agent', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'rigcap-export-')), 's1.prov.json');
    await exportCommand.run(
      ['s1', '--format', 'prov', '--out', out, '--spool', spool.rootDir],
      io(spool.rootDir),
    );
    const doc = JSON.parse(await readFile(out, 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(doc['entity'] ?? {})).toEqual(
      expect.arrayContaining([
        'rigcap:chunk/s1/chunk-000001.mcap',
        expect.stringMatching(/^rigcap:calibration\/cam0\//),
      ]),
    );
    expect(Object.keys(doc['activity'] ?? {})).toEqual(['rigcap:capture/s1', 'rigcap:deid/s1']);
    expect(Object.keys(doc['agent'] ?? {})).toEqual(['rigcap:device/rig-e']);
    // 3 chunks by capture and de-id, and one gap (the /imu stream has no calibration) by capture.
    expect(Object.keys(doc['wasGeneratedBy'] ?? {}).length).toBe(7);
    expect(Object.values(doc['entity'] ?? {})).toContainEqual(
      expect.objectContaining({ 'prov:type': 'rigcap:Gap', 'rigcap:kind': 'calibration_missing' }),
    );
  });

  it('card: Markdown plus a Croissant-RAI JSON-LD file beside it', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'rigcap-export-')), 'card.md');
    await exportCommand.run(
      ['s1', '--format', 'card', '--out', out, '--spool', spool.rootDir],
      io(spool.rootDir),
    );
    const card = await readFile(out, 'utf8');
    expect(card).toMatch(/\| \/imu \| sensor_msgs\/msg\/Imu \| 9 \| 0 \(0 %\) \| 0 \(0 %\) \|/);
    // cam0 does not cover /imu: the card names that gap instead of saying "no gaps".
    expect(card).toMatch(/no calibration on \/imu/);
    expect(card).not.toContain('no gaps');
    const croissant = JSON.parse(await readFile(out.replace(/\.md$/, '.croissant.jsonld'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(croissant).toMatchObject({
      '@type': 'sc:Dataset',
      conformsTo: 'http://mlcommons.org/croissant/1.0',
      'rai:dataUseCases': ['test'],
    });
    expect(croissant['distribution']).toHaveLength(3);
  });

  it('an unknown session is RIGCAP_NOT_FOUND', async () => {
    await expect(
      exportCommand.run(
        ['nope', '--format', 'prov', '--out', '/dev/null', '--spool', spool.rootDir],
        io(spool.rootDir),
      ),
    ).rejects.toMatchObject({ code: 'RIGCAP_NOT_FOUND' });
  });
});

describe('measureSignCost', () => {
  it('seals one record per chunk and reports CPU time', async () => {
    const cost = await measureSignCost({ chunks: 5, log: silentLogger() });
    expect(cost.records).toBe(5);
    expect(cost.cpuUs).toBeGreaterThan(0);
    expect(cost.cpuUsPerRecord).toBeCloseTo(cost.cpuUs / 5);
  });
});
