// scripts/ros-messages.sh, which install.sh runs so the hardened unit never has to write rclnodejs's
// generated message code: a no-op without rclnodejs, a no-op when the code is already generated,
// and otherwise the generator inside scripts/ros-env.sh (shown by --dry-run; running it needs ROS 2).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..', '..');
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An app folder holding the two scripts, optionally with an installed rclnodejs. */
function app(options: { rclnodejs: boolean; generated: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rigcap-ros-messages-'));
  made.push(dir);
  mkdirSync(join(dir, 'scripts'));
  for (const name of ['ros-messages.sh', 'ros-env.sh'])
    copyFileSync(join(repo, 'scripts', name), join(dir, 'scripts', name));
  if (options.rclnodejs) {
    const pkg = join(dir, 'node_modules', 'rclnodejs');
    mkdirSync(join(pkg, 'scripts'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{"name":"rclnodejs"}');
    writeFileSync(join(pkg, 'scripts', 'generate_messages.js'), '');
    if (options.generated) {
      mkdirSync(join(pkg, 'generated'));
      writeFileSync(join(pkg, 'generated', 'generator.json'), '{"version":"1.5.1"}');
    }
  }
  return dir;
}

function run(dir: string, ...args: string[]): { code: number | null; out: string } {
  const result = spawnSync('bash', [join(dir, 'scripts', 'ros-messages.sh'), ...args], { encoding: 'utf8' });
  return { code: result.status, out: result.stdout + result.stderr };
}

describe('scripts/ros-messages.sh', () => {
  it('does nothing without rclnodejs', () => {
    const { code, out } = run(app({ rclnodejs: false, generated: false }));
    expect(code, out).toBe(0);
    expect(out).toContain('rclnodejs is not installed');
  });

  it('leaves code generated at install alone unless --force', () => {
    const dir = app({ rclnodejs: true, generated: true });
    const { code, out } = run(dir);
    expect(code, out).toBe(0);
    expect(out).toContain('already generated');
    const forced = run(dir, '--force', '--dry-run');
    expect(forced.out).toContain(`would run: ${join(dir, 'scripts', 'ros-env.sh')}`);
  });

  it('runs the generator inside the ROS 2 environment when the code is missing', () => {
    const dir = app({ rclnodejs: true, generated: false });
    const { code, out } = run(dir, '--dry-run');
    expect(code, out).toBe(0);
    expect(out).toContain(`${join(dir, 'scripts', 'ros-env.sh')} `);
    expect(out).toContain(join('rclnodejs', 'scripts', 'generate_messages.js'));
  });
});
