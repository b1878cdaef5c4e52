// `rigcap diff` compares two sessions from their signed records only: sessions that differ in one
// message definition and one de-id parameter show exactly those two changes.
import { readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.ts';
import { captureSession, imuDefinition, sha } from './context-sessions.ts';
import { openSpool, type FixtureSpool } from './spool-fixture.ts';

let spool: FixtureSpool;

beforeAll(async () => {
  spool = await openSpool({ deviceId: 'rig-diff' });
  await captureSession(spool, {
    sessionId: 's-a',
    faceThreshold: 0.5,
    imuDefinition,
    paramsDigest: sha('p1'),
  });
  await captureSession(spool, {
    sessionId: 's-b',
    faceThreshold: 0.55,
    imuDefinition: `${imuDefinition}float64[9] orientation_covariance\n`,
    paramsDigest: sha('p2'),
  });
  await spool.sealer.close();
});
afterAll(async () => {
  await rm(dirname(spool.rootDir), { recursive: true, force: true });
});

describe('rigcap diff', () => {
  it('shows exactly the changed message definition and the changed de-id parameter', async () => {
    const run = await runCli(['diff', spool.rootDir, 's-a', 's-b', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as {
      changes: Array<{ kind: string; key: string; from: unknown; to: unknown }>;
      unknown: string[];
    };
    expect(doc.unknown).toEqual([]);
    expect(doc.changes.map((c) => [c.kind, c.key])).toEqual([
      ['deid-parameter', 'deid.faceThreshold'],
      ['message-definition', '/imu/data (sensor_msgs/msg/Imu)'],
    ]);
    expect(doc.changes[0]).toMatchObject({ from: 0.5, to: 0.55 });
  });

  it('accepts session folders, finds nothing between a session and itself, and never shows the token', async () => {
    const folder = join(spool.rootDir, 'sessions', 's-a');
    const run = await runCli(['diff', folder, folder]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/no changes/);
    const json = await runCli(['diff', spool.rootDir, 's-a', 's-b', '--json']);
    expect(json.stdout).not.toContain('a-secret-enrolment-token');
  });

  it('says what it cannot compare in records written before v2', async () => {
    const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'spool-v0.1', 'sessions');
    const id = readdirSync(fixture)[0]!;
    const run = await runCli(['diff', join(fixture, id), join(fixture, id), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const doc = JSON.parse(run.stdout) as { changes: unknown[]; unknown: string[] };
    expect(doc.changes).toEqual([]);
    expect(doc.unknown.join('\n')).toMatch(/no config snapshot/);
  });

  it('is a usage error without two sessions, and not-found for an unknown one', async () => {
    expect((await runCli(['diff', 's-a'])).code).toBe(2);
    expect((await runCli(['diff', spool.rootDir, 's-a', 'nope'])).code).not.toBe(0);
  });
});

describe('capture context in the exports', () => {
  it('PROV names the owner, site, licence, legal basis and consent; the card and Croissant state them', async () => {
    const prov = join(dirname(spool.rootDir), 's-a.prov.json');
    expect(
      (await runCli(['export', 's-a', '--format', 'prov', '--out', prov, '--spool', spool.rootDir])).code,
    ).toBe(0);
    const doc = JSON.parse(await readFile(prov, 'utf8')) as {
      agent: Record<string, Record<string, unknown>>;
      activity: Record<string, Record<string, unknown>>;
      entity: Record<string, Record<string, unknown>>;
      actedOnBehalfOf: Record<string, Record<string, string>>;
    };
    expect(doc.agent['rigcap:owner/Acme%20Robotics']).toMatchObject({ 'prov:type': 'prov:Organization' });
    expect(Object.values(doc.actedOnBehalfOf)[0]).toMatchObject({
      'prov:responsible': 'rigcap:owner/Acme%20Robotics',
    });
    expect(doc.activity['rigcap:capture/s-a']).toMatchObject({
      'rigcap:legalBasis': 'GDPR Art. 6(1)(f)',
      'rigcap:consentRef': 'DPA-2026-014',
      'prov:location': 'rigcap:site/depot-7',
    });
    expect(doc.entity['rigcap:chunk/s-a/chunk-000001.mcap']).toMatchObject({ 'dct:license': 'CC-BY-4.0' });

    const card = join(dirname(spool.rootDir), 's-a.md');
    expect(
      (await runCli(['export', 's-a', '--format', 'card', '--out', card, '--spool', spool.rootDir])).code,
    ).toBe(0);
    const text = await readFile(card, 'utf8');
    expect(text).toContain('- Owner: Acme Robotics');
    expect(text).toContain('- Licence: CC-BY-4.0');
    expect(text).toContain('- Site: Depot 7, Lyon (depot-7)');
    const croissant = JSON.parse(
      await readFile(join(dirname(spool.rootDir), 's-a.croissant.jsonld'), 'utf8'),
    ) as Record<string, unknown>;
    expect(croissant['license']).toBe('https://spdx.org/licenses/CC-BY-4.0.html');
    expect(croissant['creator']).toEqual({ '@type': 'sc:Organization', name: 'Acme Robotics' });
  });

  it('a card of a v0.1 session says what its records do not state', async () => {
    const fixture = join(import.meta.dirname, '..', '..', 'fixtures', 'spool-v0.1');
    const id = readdirSync(join(fixture, 'sessions'))[0]!;
    const card = join(dirname(spool.rootDir), 'old.md');
    expect((await runCli(['export', id, '--format', 'card', '--out', card, '--spool', fixture])).code).toBe(
      0,
    );
    const text = await readFile(card, 'utf8');
    expect(text).toContain('- Owner: demo operator');
    expect(text).toContain('- Licence: not stated');
  });
});
