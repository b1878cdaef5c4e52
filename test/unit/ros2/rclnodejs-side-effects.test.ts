// rclnodejs's side effects as the loader and driver meet them: the SIGINT listener its import adds
// (removed, so rigcap's ordered shutdown owns the signal) and the message code its init() writes
// into the package folder (read-only under the hardened unit: a coded error with the fix).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isDriverError } from '../../../drivers/errors.ts';
import { Ros2Driver } from '../../../drivers/ros2/driver.ts';
import { checkGeneratedCode, loadInstalledRclnodejs } from '../../../drivers/ros2/rclnodejs-loader.ts';
import { FakeRclnodejs } from '../../support/ros2/fake-rclnodejs.ts';

const env = { ROS_DISTRO: 'jazzy', AMENT_PREFIX_PATH: '/opt/ros/jazzy' };
const made: string[] = [];
const mounts: string[] = [];
const fakes: FakeRclnodejs[] = [];

afterEach(() => {
  for (const fake of fakes.splice(0)) fake.removeImportListener();
  for (const m of mounts.splice(0)) execFileSync('umount', [m], { stdio: 'ignore' });
  for (const dir of made.splice(0)) {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** An app folder with an installed, built rclnodejs package; returns resolveFrom and the package folder. */
function installedApp(): { resolveFrom: string; packageDir: string } {
  const app = mkdtempSync(join(tmpdir(), 'rigcap-rcl-effects-'));
  made.push(app);
  const packageDir = join(app, 'node_modules', 'rclnodejs');
  mkdirSync(join(packageDir, 'lib'), { recursive: true });
  mkdirSync(join(packageDir, 'build', 'Release'), { recursive: true });
  writeFileSync(join(packageDir, 'build', 'Release', 'rclnodejs.node'), '');
  writeFileSync(join(packageDir, 'package.json'), JSON.stringify({ name: 'rclnodejs', main: 'index.js' }));
  writeFileSync(join(packageDir, 'index.js'), '');
  return { resolveFrom: pathToFileURL(join(app, 'main.js')).href, packageDir };
}

function fake(options: ConstructorParameters<typeof FakeRclnodejs>[0]): FakeRclnodejs {
  const f = new FakeRclnodejs(options);
  fakes.push(f);
  return f;
}

/** Makes `folder` unwritable for this process, content kept (read-only bind mount as root, mode 0555 otherwise). */
function makeUnwritable(folder: string): 'EROFS' | 'EACCES' | undefined {
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['--bind', folder, folder], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    mounts.push(folder);
    execFileSync('mount', ['-o', 'remount,bind,ro', folder], { stdio: 'ignore' });
    return 'EROFS';
  }
  chmodSync(folder, 0o555);
  return 'EACCES';
}

describe("rclnodejs's SIGINT listener", () => {
  for (const withRemover of [true, false]) {
    it(`is gone after the loader imported rclnodejs (${withRemover ? 'removeSignalHandlers()' : 'an old release without it'})`, async () => {
      const app = installedApp();
      const rcl = fake({ distro: 'jazzy', withoutRemoveSignalHandlers: !withRemover });
      const before = process.listenerCount('SIGINT');
      await loadInstalledRclnodejs({
        env,
        resolveFrom: app.resolveFrom,
        importModule: async (specifier) => (specifier === 'rclnodejs' ? rcl.importModule() : {}),
      });
      expect(rcl.signalListenerInstalled).toBe(false);
      expect(process.listenerCount('SIGINT')).toBe(before);
    });
  }

  it('the fake models it: left in place, a SIGINT shuts the context down under the driver', () => {
    const rcl = fake({ distro: 'jazzy' });
    rcl.importModule();
    expect(rcl.signalListenerInstalled).toBe(true);
    process.emit('SIGINT', 'SIGINT');
    expect(rcl.signalShutdowns).toBe(1);
    expect(rcl.shutdownCalls).toBe(1);
  });
});

describe('rclnodejs generated message code', () => {
  function driver(rcl: FakeRclnodejs): Ros2Driver {
    return new Ros2Driver({
      streams: [],
      discovery: {
        enabled: false,
        include: [],
        exclude: [],
        discoveryIntervalMs: 60_000,
        nodeName: 'rigcap',
      },
      env,
      loadRclnodejs: async () => rcl.module,
    });
  }

  it('init() writes it once into a writable package folder, then finds generator.json', async () => {
    const { packageDir } = installedApp();
    const generatedDir = join(packageDir, 'generated');
    const first = fake({ distro: 'jazzy', generatedDir });
    const d1 = driver(first);
    await d1.open(new AbortController().signal);
    await d1.close();
    expect(first.generatedWrites.length).toBeGreaterThan(0);
    expect(existsSync(join(generatedDir, 'generator.json'))).toBe(true);
    const second = fake({ distro: 'jazzy', generatedDir, generatedReadOnly: 'EROFS' });
    const d2 = driver(second);
    await d2.open(new AbortController().signal);
    await d2.close();
    expect(second.generatedWrites).toEqual([]);
  });

  for (const errno of ['EROFS', 'EACCES'] as const) {
    it(`init() refused with ${errno}: RIGCAP_ROS2_GENERATED_READONLY, a DriverError naming the folder`, async () => {
      const { packageDir } = installedApp();
      const rcl = fake({
        distro: 'jazzy',
        generatedDir: join(packageDir, 'generated'),
        generatedReadOnly: errno,
      });
      const failure = await driver(rcl)
        .open(new AbortController().signal)
        .catch((err: unknown) => err);
      expect(isDriverError(failure)).toBe(true);
      expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_GENERATED_READONLY' });
      expect((failure as Error).message).toContain(`${join(packageDir, 'generated')}`);
      expect((failure as Error).message).toContain(`(${errno})`);
    });
  }

  it('the loader refuses before init() when the code is missing and the package folder is read-only', (ctx) => {
    const { packageDir } = installedApp();
    const errno = makeUnwritable(packageDir);
    if (errno === undefined) ctx.skip();
    let failure: unknown;
    try {
      checkGeneratedCode(packageDir);
    } catch (err) {
      failure = err;
    }
    expect(failure).toMatchObject({ code: 'RIGCAP_ROS2_GENERATED_READONLY' });
    expect((failure as Error).message).toContain(`(${errno})`);
  });

  it('the loader accepts a read-only package folder whose code was generated at install', (ctx) => {
    const { packageDir } = installedApp();
    mkdirSync(join(packageDir, 'generated'));
    writeFileSync(join(packageDir, 'generated', 'generator.json'), '{"version":"1.5.1"}\n');
    if (makeUnwritable(join(packageDir, 'generated')) === undefined) ctx.skip();
    expect(() => checkGeneratedCode(packageDir)).not.toThrow();
  });
});
