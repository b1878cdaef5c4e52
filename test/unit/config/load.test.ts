import { describe, expect, it } from 'vitest';
import { parseConfig, parseByteSize } from '../../../agent/config/load.ts';
import { migrateConfig, type ConfigMigration } from '../../../agent/config/migrations.ts';
import { isRigcapError } from '../../../agent/errors.ts';

const minimal = `
version: 1
rig: { id: rig-01 }
spool: { dir: ./spool }
streams:
  - { name: imu, driver: zmq, endpoint: tcp://127.0.0.1:5555, topic: /imu, type: sensor_msgs/msg/Imu }
`;

function issuesOf(text: string): Array<{ path: string; message: string; fix: string }> {
  try {
    parseConfig(text, { baseDir: '/etc/rigcap' });
  } catch (err) {
    if (isRigcapError(err, 'RIGCAP_CONFIG_INVALID')) return (err.details?.['issues'] ?? []) as never;
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('fills defaults, resolves paths against the config folder and freezes the result', () => {
    const { config, digest } = parseConfig(minimal, { baseDir: '/etc/rigcap' });
    expect(config.spool.dir).toBe('/etc/rigcap/spool');
    expect(config.keys.dir).toBe('/etc/rigcap/secrets');
    const [imu] = config.streams;
    expect(imu).toMatchObject({
      socket: 'sub',
      bind: false,
      latched: false,
      queue: { size: 256, dropPolicy: 'drop-oldest' },
    });
    expect(config.chunking.zstdLevel).toBe(3);
    expect(Object.isFrozen(config.streams)).toBe(true);
    expect(() => {
      (config.chunking as { maxBytes: number }).maxBytes = 1;
    }).toThrow(TypeError);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports every problem at once, each with its path and a fix', () => {
    const issues = issuesOf(`
version: 1
rig: { id: Rig_01 }
spool: { dir: /s, budgetBytes: lots }
streams:
  - { name: cam, driver: zmq, topic: /cam, type: sensor_msgs/msg/Image, queue: { size: 0, dropPolicy: oldest }, colour: red }
chunking: { zstdLevel: 40 }
`);
    const byPath = Object.fromEntries(issues.map((i) => [i.path, i]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'rig.id',
        'spool.budgetBytes',
        'streams[0].endpoint',
        'streams[0].queue.size',
        'streams[0].queue.dropPolicy',
        'streams[0].colour',
        'chunking.zstdLevel',
      ].sort(),
    );
    expect(byPath['streams[0].queue.dropPolicy']?.fix).toContain('"drop-oldest"');
    expect(byPath['streams[0].endpoint']?.fix).toBe('add `endpoint`');
    expect(byPath['chunking.zstdLevel']?.fix).toBe('use a value <= 19');
  });

  it('rejects duplicate stream names and keys inside the spool', () => {
    const issues = issuesOf(`
version: 1
rig: { id: rig-01 }
spool: { dir: /var/spool/rigcap }
keys: { dir: /var/spool/rigcap/keys }
streams:
  - { name: a, driver: zmq, endpoint: tcp://127.0.0.1:1, topic: /a, type: std_msgs/msg/String }
  - { name: a, driver: zmq, endpoint: tcp://127.0.0.1:1, topic: /b, type: std_msgs/msg/String }
`);
    expect(issues.map((i) => i.path).sort()).toEqual(['keys.dir', 'streams[1].name']);
  });

  it('names YAML syntax errors and version problems with their codes', () => {
    expect(issuesOf('version: 1\nrig: {id: x\n')[0]?.path).toBe('(file)');
    expect(() => parseConfig('version: 9\n', { baseDir: '/' })).toThrow(
      expect.objectContaining({ code: 'RIGCAP_CONFIG_VERSION' }),
    );
    expect(() => parseConfig('rig: {}\n', { baseDir: '/' })).toThrow(
      expect.objectContaining({ code: 'RIGCAP_CONFIG_VERSION' }),
    );
  });

  it('parses byte sizes with units', () => {
    expect(parseByteSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseByteSize('2 GB')).toBe(2e9);
    expect(parseByteSize(17)).toBe(17);
  });
});

describe('config migrations', () => {
  it('lifts a version 0 config to version 1', () => {
    const { config } = parseConfig(
      `version: 0\nrigId: rig-07\nspoolDir: /data/spool\nchunkMaxBytes: 1MiB\nstreams:\n  - { name: imu, driver: zmq, endpoint: tcp://127.0.0.1:5555, topic: /imu, type: sensor_msgs/msg/Imu }\n`,
      { baseDir: '/' },
    );
    expect(config.rig.id).toBe('rig-07');
    expect(config.spool.dir).toBe('/data/spool');
    expect(config.chunking.maxBytes).toBe(1024 * 1024);
  });

  it('runs injected migrations in order and fails on a missing step', () => {
    const list: ConfigMigration[] = [
      { from: 0, describe: 'zero', migrate: (r) => ({ ...r, version: 1, touched: true }) },
    ];
    expect(migrateConfig({ version: 0 }, list)).toEqual({
      config: { version: 1, touched: true },
      applied: ['zero'],
    });
    expect(() => migrateConfig({ version: 0 }, [])).toThrow(/no migration/);
  });
});

describe('shipped example configs', () => {
  it('every config in config/ validates, and the exported JSON Schema matches the code', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { loadConfigFile } = await import('../../../agent/config/load.ts');
    const { configSchema } = await import('../../../agent/config/schema.ts');
    const dir = join(import.meta.dirname, '../../../config');
    const yamls = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(yamls.length).toBeGreaterThanOrEqual(2);
    for (const f of yamls) expect(() => loadConfigFile(join(dir, f)), f).not.toThrow();
    expect(JSON.parse(readFileSync(join(dir, 'rigcap.schema.json'), 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(configSchema)),
    );
  });
});

describe('de-id defaults', () => {
  it('the config defaults are the tuned detector defaults the bench measures', async () => {
    const { parseConfig } = await import('../../../agent/config/load.ts');
    const { defaultDeidConfig } = await import('../../../agent/deid/params.ts');
    const { config } = parseConfig(minimal, { baseDir: '/etc/rigcap' });
    expect({ ...config.deid, customModels: [] }).toEqual({ ...defaultDeidConfig, customModels: [] });
  });
});

describe('de-id spill config', () => {
  it('spill is the default mode, with a 2 GiB holding budget that drops the oldest frame when full', () => {
    const { config } = parseConfig(minimal, { baseDir: '/etc/rigcap' });
    expect(config.deid.mode).toBe('spill');
    expect(config.deid.holdingBytes).toBe(2 * 1024 ** 3);
    expect(config.deid.holdingDrop).toBe('oldest');
  });

  it('accepts inline mode and a byte size with a unit, and rejects unknown values with their paths', () => {
    const { config } = parseConfig(
      `${minimal}deid: { mode: inline, holdingBytes: 512MiB, holdingDrop: newest }\n`,
      { baseDir: '/etc/rigcap' },
    );
    expect(config.deid).toMatchObject({
      mode: 'inline',
      holdingBytes: 512 * 1024 ** 2,
      holdingDrop: 'newest',
    });
    const paths = issuesOf(`${minimal}deid: { mode: later, holdingBytes: lots, holdingDrop: random }\n`).map(
      (i) => i.path,
    );
    expect(paths).toEqual(expect.arrayContaining(['deid.mode', 'deid.holdingBytes', 'deid.holdingDrop']));
  });
});
