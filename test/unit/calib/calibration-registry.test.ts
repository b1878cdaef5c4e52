import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { CalibrationRegistry, rigDigestOf } from '../../../agent/calib/calibration-registry.ts';
import { parseCalibration } from '../../../agent/calib/calibration-parser.ts';
import {
  MemoryCalibrationHistoryStore,
  SqliteCalibrationHistoryStore,
} from '../../../agent/calib/history-store.ts';
import { silentLogger } from '../../../agent/log.ts';

const simDir = join(import.meta.dirname, '../../../config/calibration/sim');
const jetsonDir = join(import.meta.dirname, '../../../config/calibration/jetson');
const yamlIn = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
const temps: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'rigcap-calib-'));
  temps.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('example calibrations', () => {
  it('every shipped example validates and is recognised', () => {
    const kinds = [...yamlIn(simDir), ...yamlIn(jetsonDir)].map((f) => {
      const parsed = parseCalibration(f, readFileSync(f));
      expect(parsed.issues).toEqual([]);
      return parsed.kind;
    });
    expect(new Set(kinds)).toEqual(
      new Set(['camera-info', 'kalibr-camchain', 'kalibr-imu', 'rigcap-extrinsics']),
    );
  });

  it('reads Kalibr camchain extrinsics with camera names from their topics', () => {
    const parsed = parseCalibration('camchain.yaml', readFileSync(join(simDir, 'camchain.yaml')));
    expect(parsed.extrinsics.map((e) => e.pair)).toEqual([
      'imu→cam_front',
      'imu→cam_rear',
      'cam_front→cam_rear',
    ]);
    expect(parsed.extrinsics[0]?.translationM).toEqual([0.0213, -0.0642, -0.1185]);
  });
});

describe('validation', () => {
  it('reports every problem at once with its path and a fix', () => {
    const bad = readFileSync(join(simDir, 'cam_front.yaml'), 'utf8')
      .replace(
        'cols: 5\n  data: [-0.341528, 0.129847, 0.000412, -0.000231, -0.022614]',
        'cols: 5\n  data: [-0.341528, 0.129847]',
      )
      .replace('image_height: 720', 'image_height: 0')
      .replace('distortion_model: plumb_bob', 'distortion_model: plumb_bob\nextra_key: 1');
    // schema problems come first; the coefficient count is checked once the structure is right
    const first = parseCalibration('cam.yaml', Buffer.from(bad));
    expect(first.issues.map((i) => i.path)).toEqual(['image_height']);
    expect(first.issues[0]).toMatchObject({ file: 'cam.yaml', fix: expect.any(String) });
    const second = parseCalibration(
      'cam.yaml',
      Buffer.from(bad.replace('image_height: 0', 'image_height: 720')),
    );
    expect(second.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'distortion_coefficients.data: has 2 values, plumb_bob needs 5',
      'distortion_coefficients.cols: is 5 but data has 2 values',
    ]);
  });

  it('rejects non-rigid Kalibr transforms, non-unit quaternions and unknown formats', () => {
    const camchain = readFileSync(join(simDir, 'camchain.yaml'), 'utf8').replace(
      '[0.0, -1.0, 0.0, 0.0213]',
      '[0.0, -2.0, 0.0, 0.0213]',
    );
    expect(parseCalibration('c.yaml', Buffer.from(camchain)).issues[0]).toMatchObject({
      path: 'cam0.T_cam_imu',
      message: 'rotation part is not orthonormal',
    });
    const lidar = readFileSync(join(simDir, 'lidar.yaml'), 'utf8').replace(
      'rotation: [0.0, 0.0, 0.0, 1.0]',
      'rotation: [0.0, 0.0, 0.5, 1.0]',
    );
    expect(parseCalibration('l.yaml', Buffer.from(lidar)).issues[0]?.path).toBe('transforms[0].rotation');
    expect(parseCalibration('x.yaml', Buffer.from('foo: 1\n')).issues[0]?.message).toMatch(
      /not a recognised calibration format/,
    );
    expect(parseCalibration('x.yaml', Buffer.from('a: [1\n')).issues[0]?.fix).toBe('fix the YAML syntax');
  });

  it('the registry throws RIGCAP_CALIB_INVALID listing problems from every file, and UNREADABLE for a missing one', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'imu.yaml'), 'accelerometer_noise_density: -1\nupdate_rate: 200\n');
    writeFileSync(join(dir, 'gnss.yaml'), 'rigcap_extrinsics: 2\ntransforms: []\n');
    const registry = new CalibrationRegistry({
      logger: silentLogger(),
      store: new MemoryCalibrationHistoryStore(),
    });
    const err = await registry.load([join(dir, 'imu.yaml'), join(dir, 'gnss.yaml')]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RIGCAP_CALIB_INVALID' });
    const issues = (err as { details: { issues: Array<{ file: string; path: string }> } }).details.issues;
    expect(new Set(issues.map((i) => i.file))).toEqual(
      new Set([join(dir, 'imu.yaml'), join(dir, 'gnss.yaml')]),
    );
    expect(issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'accelerometer_noise_density',
        'gyroscope_noise_density',
        'rigcap_extrinsics',
        'transforms',
      ]),
    );
    await expect(registry.load([join(dir, 'nope.yaml')])).rejects.toMatchObject({
      code: 'RIGCAP_CALIB_UNREADABLE',
    });
  });
});

describe('CalibrationRegistry', () => {
  it('content-addresses exact bytes, names attachments per sensor and digests the rig', async () => {
    const registry = new CalibrationRegistry({
      logger: silentLogger(),
      store: new MemoryCalibrationHistoryStore(),
    });
    const set = await registry.load(yamlIn(simDir));
    expect(set.sensors.map((s) => s.sensor)).toEqual([
      'cam_front',
      'cam_rear',
      'camchain',
      'gnss',
      'imu',
      'lidar',
    ]);
    const front = set.sensors[0]!;
    const bytes = readFileSync(join(simDir, 'cam_front.yaml'));
    expect(front).toMatchObject({ name: 'calibration/cam_front.yaml', kind: 'camera-info', version: 1 });
    expect(front.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(Buffer.from(registry.attachments()[0]!.data).equals(bytes)).toBe(true);
    expect(registry.attachments()[0]).toMatchObject({
      name: 'calibration/cam_front.yaml',
      mediaType: 'application/yaml',
    });
    expect(registry.refs()).toContainEqual({ sensor: 'imu', digest: set.sensors[4]!.sha256, version: 1 });
    expect(set.rigDigest).toBe(rigDigestOf([...set.sensors].reverse()));
    expect(set.rigDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps versions monotonic across restarts in SQLite, and a change makes a new version with its drift', async () => {
    const dir = tempDir();
    for (const f of ['lidar.yaml', 'camchain.yaml', 'imu.yaml']) copyFileSync(join(simDir, f), join(dir, f));
    const files = ['lidar.yaml', 'camchain.yaml', 'imu.yaml'].map((f) => join(dir, f));
    const db = new Database(join(dir, 'catalog.sqlite'));
    let now = 1_000_000_000_000n;
    const registry = new CalibrationRegistry({
      logger: silentLogger(),
      store: new SqliteCalibrationHistoryStore(db),
      wallNs: () => now,
    });
    const first = await registry.load(files);
    expect(await registry.checkForChange({ onChange: () => undefined })).toBeUndefined();

    // the lidar was bumped: 12 mm up and yawed by 0.5°
    const half = (0.5 * Math.PI) / 360;
    writeFileSync(
      files[0]!,
      readFileSync(files[0]!, 'utf8')
        .replace('translation: [0.812, 0.0, 1.934]', 'translation: [0.812, 0.0, 1.946]')
        .replace(
          'rotation: [0.0, 0.0, 0.0, 1.0]',
          `rotation: [0.0, 0.0, ${Math.sin(half)}, ${Math.cos(half)}]`,
        ),
    );
    now += 60_000_000_000n;
    const changes: string[][] = [];
    const change = await registry.checkForChange({ onChange: (c) => changes.push(c.changedSensors) });
    expect(changes).toEqual([['lidar']]);
    expect(change?.current.rigDigest).not.toBe(first.rigDigest);
    expect(change?.drift).toHaveLength(1);
    expect(change?.drift[0]).toMatchObject({
      sensor: 'lidar',
      pair: 'base_link→lidar',
      version: 2,
      atNs: now,
    });
    expect(change?.drift[0]?.translationMm).toBeCloseTo(12, 6);
    expect(change?.drift[0]?.rotationDeg).toBeCloseTo(0.5, 6);

    // an invalid edit keeps the previous set current
    writeFileSync(files[2]!, 'update_rate: 200\n');
    const invalid: string[] = [];
    await registry.checkForChange({
      onChange: () => invalid.push('changed'),
      onInvalid: (e) => invalid.push(e.code),
    });
    expect(invalid).toEqual(['RIGCAP_CALIB_INVALID']);
    expect(registry.refs().find((r) => r.sensor === 'lidar')?.version).toBe(2);

    // a restart on the same database continues the versions; reverting the lidar is version 3
    copyFileSync(join(simDir, 'imu.yaml'), files[2]!);
    copyFileSync(join(simDir, 'lidar.yaml'), files[0]!);
    const again = new CalibrationRegistry({
      logger: silentLogger(),
      store: new SqliteCalibrationHistoryStore(db),
      wallNs: () => now + 1n,
    });
    const reloaded = await again.load(files);
    expect(reloaded.sensors.map((s) => `${s.sensor}@${s.version}`)).toEqual([
      'lidar@3',
      'camchain@1',
      'imu@1',
    ]);
    expect(reloaded.rigDigest).toBe(first.rigDigest);
    expect(again.drift().map((d) => `${d.pair}@${d.version}`)).toEqual([
      'imu→cam_front@1',
      'imu→cam_rear@1',
      'cam_front→cam_rear@1',
      'base_link→lidar@1',
      'base_link→lidar@2',
      'base_link→lidar@3',
    ]);
    db.close();
  });

  it('watch() re-reads at the interval and reports a change until aborted', async () => {
    const dir = tempDir();
    copyFileSync(join(simDir, 'gnss.yaml'), join(dir, 'gnss.yaml'));
    const registry = new CalibrationRegistry({
      logger: silentLogger(),
      store: new MemoryCalibrationHistoryStore(),
    });
    await registry.load([join(dir, 'gnss.yaml')]);
    const controller = new AbortController();
    const seen = new Promise<string[]>((resolve) => {
      registry.watch({
        intervalMs: 20,
        signal: controller.signal,
        onChange: (c) => resolve(c.changedSensors),
      });
    });
    writeFileSync(
      join(dir, 'gnss.yaml'),
      readFileSync(join(dir, 'gnss.yaml'), 'utf8').replace('-0.350', '-0.352'),
    );
    expect(await seen).toEqual(['gnss']);
    controller.abort();
    expect(registry.refs()[0]?.version).toBe(2);
  });
});
