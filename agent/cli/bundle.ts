// `rigcap bundle --arch x64|arm64 [--out DIR] [--gzip] [--json]`: the offline install bundle for a
// robot computer, built on this machine (same as `npm run bundle`). See scripts/bundle/build.ts.
import { resolve } from 'node:path';
import { ExitCode, type CliIO, type Command } from './command.ts';

const command: Command = {
  name: 'bundle',
  summary: 'build the offline install bundle for x64 or arm64 (Jetson)',
  usage:
    'usage: rigcap bundle --arch x64|arm64 [--out DIR] [--gzip] [--json]\n\n' +
    'Writes DIR/rigcap-<version>-linux-<arch>.tar.zst (DIR defaults to ./dist); see README, Field deployment.',
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const { buildBundle, bundleUsage, parseBundleArgs } = await import('../../scripts/bundle/build.ts');
    const parsed = parseBundleArgs(argv, resolve(io.cwd));
    if (typeof parsed === 'string') {
      io.stderr.write(`RIGCAP_USAGE: ${parsed}\n${bundleUsage}\n`);
      return ExitCode.usage;
    }
    const result = await buildBundle({
      arch: parsed.arch,
      outDir: parsed.outDir,
      compression: parsed.compression,
      log: (line) => io.stderr.write(`${line}\n`),
    });
    if (parsed.json)
      io.stdout.write(
        `${JSON.stringify({ file: result.file, sha256: result.sha256, glibcFloor: result.manifest.glibcFloor })}\n`,
      );
    else io.stdout.write(`${result.file}\n`);
    return ExitCode.ok;
  },
};

export default command;
