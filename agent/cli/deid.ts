// `rigcap deid IMAGE --out FILE [--json]`: de-identify one JPEG or PNG file.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { RigcapError, errnoCode } from '../errors.ts';
import { loadLocalRedactor } from '../deid/local-redactor.ts';
import { defaultDeidConfig } from '../deid/params.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

const usage = `usage: rigcap deid IMAGE --out FILE [--json]

Blurs faces and licence plates in one JPEG or PNG image and writes the result to FILE (same format).
--json prints { detections: [{ kind, box: [x, y, w, h], score }], ms } on stdout.`;

function parse(argv: readonly string[]): { image: string; out: string; json: boolean } {
  let image: string | undefined;
  let out: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--out') out = argv[++i];
    else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a.startsWith('-')) throw new RigcapError('RIGCAP_USAGE', `unknown flag '${a}'`);
    else if (image === undefined) image = a;
    else throw new RigcapError('RIGCAP_USAGE', `unexpected argument '${a}'`);
  }
  if (image === undefined || out === undefined)
    throw new RigcapError('RIGCAP_USAGE', 'rigcap deid needs IMAGE and --out FILE');
  return { image, out, json };
}

const command: Command = {
  name: 'deid',
  summary: 'blur faces and plates in one image',
  usage,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const args = parse(argv);
    let bytes: Buffer;
    try {
      bytes = await readFile(resolve(io.cwd, args.image));
    } catch (err) {
      throw new RigcapError(
        'RIGCAP_NOT_FOUND',
        `cannot read ${args.image} (${errnoCode(err) ?? String(err)})`,
        { cause: err },
      );
    }
    const encoding = bytes[0] === 0x89 ? 'png' : 'jpeg';
    const redactor = await loadLocalRedactor({ config: defaultDeidConfig });
    const started = performance.now();
    const result = await redactor.redact({ encoding, schemaRef: '', data: bytes });
    const ms = Math.round(performance.now() - started);
    await writeFile(resolve(io.cwd, args.out), result.data);
    const detections = result.detections.map((d) => ({
      kind: d.kind,
      box: [Math.round(d.box.x), Math.round(d.box.y), Math.round(d.box.w), Math.round(d.box.h)],
      score: Math.round(d.score * 1000) / 1000,
    }));
    if (args.json) io.stdout.write(`${JSON.stringify({ detections, ms })}\n`);
    else
      io.stderr.write(
        `${detections.length} region(s) blurred (${detections.filter((d) => d.kind === 'face').length} face, ${detections.filter((d) => d.kind === 'plate').length} plate) in ${ms} ms → ${args.out}\n`,
      );
    return ExitCode.ok;
  },
};

export default command;
