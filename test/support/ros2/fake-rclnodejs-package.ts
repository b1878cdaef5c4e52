// Writes an installed-looking rclnodejs package (package.json, lib/, a built binding, generated/)
// whose entry is the fake, so a child `rigcap run` with NODE_PATH pointing here loads it through
// the real loader. The package lives in a temp folder, never in the project's node_modules.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InstalledFakeConfig } from './installed-fake-rclnodejs.ts';

/** Where the fake package is and how to reach it. */
export interface FakeRclnodejsPackage {
  /** For the child's NODE_PATH. */
  nodePath: string;
  packageDir: string;
  generatedDir: string;
  eventsFile: string;
  /** The events the fake recorded so far, in order. */
  events(): string[];
}

/** Writes the fake package under `root`. */
export function writeFakeRclnodejsPackage(
  root: string,
  options: {
    publishers?: InstalledFakeConfig['publishers'];
    generatedReadOnly?: 'EROFS' | 'EACCES';
    /** Message code generated already (as scripts/install.sh leaves it). */
    pregenerated?: boolean;
    initStallMs?: number;
    shutdownStallMs?: number;
  } = {},
): FakeRclnodejsPackage {
  const nodePath = join(root, 'node_modules');
  const packageDir = join(nodePath, 'rclnodejs');
  const generatedDir = join(packageDir, 'generated');
  const eventsFile = join(root, 'rclnodejs-events.txt');
  mkdirSync(join(packageDir, 'lib'), { recursive: true });
  mkdirSync(join(packageDir, 'build', 'Release'), { recursive: true });
  writeFileSync(join(packageDir, 'build', 'Release', 'rclnodejs.node'), '');
  writeFileSync(
    join(packageDir, 'package.json'),
    JSON.stringify({ name: 'rclnodejs', version: '1.5.1', type: 'module', main: 'index.js' }),
  );
  const config: InstalledFakeConfig = {
    eventsFile,
    generatedDir,
    publishers: options.publishers ?? [],
    ...(options.generatedReadOnly === undefined ? {} : { generatedReadOnly: options.generatedReadOnly }),
    ...(options.initStallMs === undefined ? {} : { initStallMs: options.initStallMs }),
    ...(options.shutdownStallMs === undefined ? {} : { shutdownStallMs: options.shutdownStallMs }),
  };
  writeFileSync(join(packageDir, 'fake.json'), JSON.stringify(config));
  const impl = pathToFileURL(join(import.meta.dirname, 'installed-fake-rclnodejs.ts')).href;
  writeFileSync(
    join(packageDir, 'index.js'),
    `import { installFake } from ${JSON.stringify(impl)};\nexport default installFake(new URL('./fake.json', import.meta.url));\n`,
  );
  if (options.pregenerated === true) {
    mkdirSync(generatedDir, { recursive: true });
    writeFileSync(join(generatedDir, 'generator.json'), '{"version":"1.5.1"}\n');
  }
  writeFileSync(eventsFile, '');
  return {
    nodePath,
    packageDir,
    generatedDir,
    eventsFile,
    events: () =>
      readFileSync(eventsFile, 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
  };
}
