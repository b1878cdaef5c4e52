// Finds an optional system tool for a test; when it is missing the test is skipped with the Debian
// package to install (.ci/run installs them), instead of failing on a machine without it.
import { spawnSync } from 'node:child_process';

/** The tool's name when it runs, else undefined. */
export function findTool(command: string, versionArg = '--version'): string | undefined {
  return spawnSync(command, [versionArg], { stdio: 'ignore' }).status === 0 ? command : undefined;
}

/** The skip reason for a missing tool. */
export function missingTool(command: string, debianPackage: string): string {
  return `${command} is not installed: apt-get install ${debianPackage} to run this test`;
}
