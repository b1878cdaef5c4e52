// `rigcap selftest [--json]`: named checks that the device can capture safely. Each check is one
// entry in `selfTestChecks`; later checks (keys, disk, clocks) are appended to the same list.
import { isRigcapError } from '../errors.ts';
import { loadLocalRedactor } from '../deid/local-redactor.ts';
import { defaultDeidConfig } from '../deid/params.ts';
import { runDeidSelfTest } from '../deid/selftest.ts';
import { ExitCode, type CliIO, type Command } from './command.ts';

/** One named check: resolves with a one-line detail, or throws (a RigcapError says what to do). */
export interface SelfTestCheck {
  readonly name: string;
  run(io: CliIO): Promise<string>;
}

/** The checks `rigcap selftest` runs, in order. */
export const selfTestChecks: SelfTestCheck[] = [
  {
    name: 'deid-models',
    async run() {
      const redactor = await loadLocalRedactor({ config: defaultDeidConfig });
      const result = await runDeidSelfTest((jpeg) => redactor.redact({ encoding: 'jpeg', schemaRef: '', data: jpeg }));
      const models = redactor.specs.map((s) => `${s.name}@${s.sha256.slice(0, 12)}`).join(', ');
      return `${models} loaded; test image: ${result.faces} face(s), ${result.plates} plate(s) in ${Math.round(result.ms)} ms`;
    },
  },
];

interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  code?: string;
}

const command: Command = {
  name: 'selftest',
  summary: 'check models, keys, disk and clocks before capture',
  usage: 'usage: rigcap selftest [--json]\n\nRuns every self-check; exits 1 if any fails.',
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const json = argv.includes('--json');
    const results: CheckResult[] = [];
    for (const check of selfTestChecks) {
      try {
        results.push({ name: check.name, ok: true, detail: await check.run(io) });
      } catch (err) {
        const code = isRigcapError(err) ? err.code : 'RIGCAP_INTERNAL';
        const detail = isRigcapError(err) ? `${err.message} (fix: ${err.hint})` : String(err);
        results.push({ name: check.name, ok: false, detail, code });
      }
    }
    const ok = results.every((r) => r.ok);
    if (json) io.stdout.write(`${JSON.stringify({ ok, checks: results })}\n`);
    else for (const r of results) io.stderr.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.code === undefined ? '' : `${r.code}: `}${r.detail}\n`);
    return ok ? ExitCode.ok : ExitCode.failed;
  },
};

export default command;
