import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadInstalledRclnodejs, readRos2Environment } from '../../../drivers/ros2/rclnodejs-loader.ts';
import { FakeRclnodejs } from '../../support/ros2/fake-rclnodejs.ts';

const env = { ROS_DISTRO: 'humble', AMENT_PREFIX_PATH: '/opt/ros/humble:/ws/install/pkg' };
const made: string[] = [];

/** An app folder with an installed (fake) rclnodejs package, optionally with a built binding. */
function appWithRclnodejs(options: { built: boolean }): string {
  const app = mkdtempSync(join(tmpdir(), 'rigcap-ros2-loader-'));
  made.push(app);
  const pkg = join(app, 'node_modules', 'rclnodejs');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'rclnodejs', main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), 'throw new Error("the test never imports the real file");\n');
  if (options.built) {
    mkdirSync(join(pkg, 'build', 'Release'), { recursive: true });
    writeFileSync(join(pkg, 'build', 'Release', 'rclnodejs.node'), '');
  }
  return pathToFileURL(join(app, 'main.js')).href;
}

afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('loadInstalledRclnodejs', () => {
  it('refuses to import rclnodejs when no native binding is built, so it can never compile itself at run time', async () => {
    const imported: string[] = [];
    const failure = await loadInstalledRclnodejs({
      env,
      resolveFrom: appWithRclnodejs({ built: false }),
      importModule: async (specifier) => {
        imported.push(specifier);
        return {};
      },
    }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_UNAVAILABLE' });
    expect((failure as Error).message).toContain('npm rebuild rclnodejs');
    expect(imported).toEqual([]);
  });

  it('refuses RCLNODEJS_FORCE_BUILD=1, which makes rclnodejs rebuild on import', async () => {
    const failure = await loadInstalledRclnodejs({
      env: { ...env, RCLNODEJS_FORCE_BUILD: '1' },
      resolveFrom: appWithRclnodejs({ built: true }),
    }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_UNAVAILABLE' });
  });

  it('imports a built rclnodejs, unwraps its CommonJS default and finds the event classes in lib/', async () => {
    const fake = new FakeRclnodejs({ distro: 'humble' });
    class Events {
      messageLost = null;
    }
    const rcl = await loadInstalledRclnodejs({
      env,
      resolveFrom: appWithRclnodejs({ built: true }),
      importModule: async (specifier) =>
        specifier === 'rclnodejs' ? { default: fake.module } : { SubscriptionEventCallbacks: Events },
    });
    expect(typeof rcl.createNode).toBe('function');
    expect(rcl.SubscriptionEventCallbacks).toBe(Events);
  });

  it('reports an import failure as RIGCAP_ROS2_UNAVAILABLE with the fix', async () => {
    const failure = await loadInstalledRclnodejs({
      env,
      resolveFrom: appWithRclnodejs({ built: true }),
      importModule: async () => {
        throw new Error('librcl.so: cannot open shared object file');
      },
    }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_UNAVAILABLE' });
    expect((failure as Error).message).toContain('librcl.so');
  });
});

describe('readRos2Environment', () => {
  it('splits AMENT_PREFIX_PATH in lookup order and names what is missing', () => {
    expect(readRos2Environment(env)).toEqual({
      distro: 'humble',
      amentPrefixes: ['/opt/ros/humble', '/ws/install/pkg'],
    });
    expect(() => readRos2Environment({ ROS_DISTRO: 'jazzy' })).toThrow(/AMENT_PREFIX_PATH is not set/);
    expect(() => readRos2Environment({})).toThrow(/ROS_DISTRO and AMENT_PREFIX_PATH are not set/);
  });
});
