// Capture-context config: SPDX licence shape, geofences inline and from a GeoJSON file, and the
// snapshot whose digest is configDigest (secrets removed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureContext } from '../../../agent/config/capture-context.ts';
import { parseConfig } from '../../../agent/config/load.ts';
import { configSnapshot, snapshotDigest } from '../../../agent/config/snapshot.ts';
import { isRigcapError } from '../../../agent/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'rigcap-context-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (policy: string, sync = ''): string => `
version: 1
rig: { id: rig-01 }
spool: { dir: ./spool }
streams:
  - { name: imu, driver: zmq, endpoint: tcp://127.0.0.1:5555, topic: /imu, type: sensor_msgs/msg/Imu, sensor: { serial: S-1 } }
policy: ${policy}
${sync}`;

function issues(text: string): string[] {
  try {
    parseConfig(text, { baseDir: dir });
  } catch (err) {
    if (isRigcapError(err, 'RIGCAP_CONFIG_INVALID'))
      return ((err.details?.['issues'] ?? []) as Array<{ path: string }>).map((i) => i.path);
    throw err;
  }
  return [];
}

const square = [
  [11, 48],
  [12, 48],
  [12, 49],
  [11, 49],
  [11, 48],
];

describe('capture context in the config', () => {
  it('accepts SPDX ids and expressions and rejects free text as a licence', () => {
    expect(issues(base('{ licence: CC-BY-4.0 }'))).toEqual([]);
    expect(issues(base("{ licence: 'MIT OR Apache-2.0' }"))).toEqual([]);
    expect(issues(base("{ licence: 'all rights reserved!' }"))).toEqual(['policy.licence']);
  });

  it('states what the config says and null for what it does not', () => {
    const { config } = parseConfig(base("{ owner: Acme, site: { id: depot-7, name: 'Depot 7' } }"), {
      baseDir: dir,
    });
    expect(captureContext(config)).toEqual({
      owner: 'Acme',
      site: { id: 'depot-7', name: 'Depot 7' },
      licence: null,
      legalBasis: null,
      consentRef: null,
      purpose: 'unspecified',
      sensors: [{ stream: 'imu', serial: 'S-1' }],
    });
  });

  it('removes the enrolment token from the snapshot, whose digest is configDigest', () => {
    const { config, digest } = parseConfig(base('{}', 'sync: { enrollToken: secret-token-0123456789 }'), {
      baseDir: dir,
    });
    const snap = configSnapshot(config);
    expect(JSON.stringify(snap)).not.toContain('secret-token');
    expect(snapshotDigest(snap)).toBe(digest);
  });

  it('adds the fences of a GeoJSON file and names a feature it cannot use', () => {
    const good = join(dir, 'fences.geojson');
    writeFileSync(
      good,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          {
            type: 'Feature',
            properties: { id: 'depot' },
            geometry: { type: 'Polygon', coordinates: [square] },
          },
        ],
      }),
    );
    const { config } = parseConfig(base(`{ geofencesFile: ${good} }`), { baseDir: dir });
    expect(config.policy.geofences.map((f) => f.id)).toEqual(['depot']);

    const bad = join(dir, 'bad.geojson');
    writeFileSync(
      bad,
      JSON.stringify({
        type: 'FeatureCollection',
        features: [{ type: 'Feature', properties: {}, geometry: null }],
      }),
    );
    expect(issues(base(`{ geofencesFile: ${bad} }`))).toEqual(['policy.geofencesFile features[0]']);
    expect(issues(base(`{ geofencesFile: ${join(dir, 'missing.geojson')} }`))).toEqual([
      'policy.geofencesFile',
    ]);
  });
});
