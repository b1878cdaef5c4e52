// The dependency rules in eslint.config.js, run through ESLint's own API with the project config: a
// forbidden import is reported, an allowed one is not.
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: root });
const boundaryRules = new Set(['no-restricted-imports', 'no-restricted-syntax']);

/** The boundary findings ESLint reports for `code` placed at `filePath` (relative to the root). */
async function boundaryFindings(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => boundaryRules.has(m.ruleId ?? '')).map((m) => m.message);
}

const forbidden: Array<[string, string, string]> = [
  ['a driver importing the agent', 'drivers/zmq/x.ts', "import { Agent } from '../../agent/agent.ts';"],
  ['a driver importing the agent lazily', 'drivers/x.ts', "await import('../agent/errors.ts');"],
  ['a driver importing the receiver', 'drivers/ros2/x.ts', "import '../../receiver/app.ts';"],
  ['records reading files', 'agent/records/x.ts', "import { readFileSync } from 'node:fs';"],
  ['records reading files (bare name)', 'agent/records/x.ts', "import { readFile } from 'fs/promises';"],
  ['records opening SQLite', 'agent/records/x.ts', "import Database from 'better-sqlite3';"],
  ['records making HTTP requests', 'agent/records/x.ts', "import { request } from 'undici';"],
  ['records spawning processes', 'agent/records/x.ts', "import { spawn } from 'node:child_process';"],
  ['records importing the agent', 'agent/records/x.ts', "import { RigcapError } from '../errors.ts';"],
  ['the receiver importing agent sync', 'receiver/x.ts', "import { merkleRoot } from '../agent/sync/x.ts';"],
  ['the receiver importing agent keys', 'receiver/y/x.ts', "import { k } from '../../agent/keys/x.ts';"],
  ['the file helpers importing agent keys', 'agent/fsutil/x.ts', "import { k } from '../keys/x.ts';"],
  ['config importing the pipeline', 'agent/config/x.ts', "import { s } from '../pipeline/stamp.ts';"],
  ['config importing de-id', 'agent/config/x.ts', "import { d } from '../deid/stage.ts';"],
  ['config importing a driver', 'agent/config/x.ts', "import type { Sample } from '../../drivers/types.ts';"],
  [
    'the agent importing a script',
    'agent/pipeline/x.ts',
    "import { r } from '../../scripts/bench/figures.ts';",
  ],
  ['the agent importing test support', 'agent/x.ts', "import { waitFor } from '../test/support/wait.ts';"],
  ['a re-export across a boundary', 'drivers/zmq/x.ts', "export { Agent } from '../../agent/agent.ts';"],
  [
    'a CLI command importing another script',
    'agent/cli/demo.ts',
    "import { b } from '../../scripts/bench/x.ts';",
  ],
];

const allowed: Array<[string, string, string]> = [
  ['a driver importing drivers/types', 'drivers/zmq/x.ts', "import type { Sample } from '../types.ts';"],
  ['records hashing with node:crypto', 'agent/records/x.ts', "import { createHash } from 'node:crypto';"],
  ['records importing records', 'agent/records/x.ts', "import { jcs } from './jcs.ts';"],
  [
    'the receiver importing the shared formats',
    'receiver/x.ts',
    "import { v } from '../agent/records/verify.ts';",
  ],
  ['the receiver importing its own code', 'receiver/y/x.ts', "import { a } from '../app.ts';"],
  [
    'the receiver importing the file helpers',
    'receiver/x.ts',
    "import { fsyncDir } from '../agent/fsutil/atomic-file.ts';",
  ],
  ['the receiver importing the error catalogue', 'receiver/x.ts', "import { e } from '../agent/errors.ts';"],
  ['config importing config', 'agent/config/x.ts', "import type { StreamConfig } from './types.ts';"],
  ['the pipeline importing config', 'agent/pipeline/x.ts', "import type { C } from '../config/types.ts';"],
  ['the agent importing a driver', 'agent/x.ts', "import { DriverError } from '../drivers/errors.ts';"],
  [
    'rigcap demo starting the simulated rig',
    'agent/cli/demo.ts',
    "import { s } from '../../scripts/sim-rig/index.ts';",
  ],
  ['a script importing the agent', 'scripts/bench/x.ts', "import { Agent } from '../../agent/agent.ts';"],
  ['a test importing anything', 'test/unit/x.test.ts', "import { s } from '../../scripts/sim-rig/index.ts';"],
];

describe('dependency rules (eslint.config.js)', () => {
  it.each(forbidden)('report %s', async (_name, filePath, code) => {
    expect(await boundaryFindings(filePath, code)).not.toEqual([]);
  });

  it.each(allowed)('allow %s', async (_name, filePath, code) => {
    expect(await boundaryFindings(filePath, code)).toEqual([]);
  });

  it('names the rule that was broken', async () => {
    const [message] = await boundaryFindings('drivers/zmq/x.ts', "import '../../agent/agent.ts';");
    expect(message).toContain('drivers produce Samples and know nothing else');
  });
});

describe('size rules (eslint.config.js)', () => {
  async function ruleIds(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? []).map((m) => m.ruleId ?? '');
  }
  const statements = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');

  it('report a source file over 400 lines and a function over 80', async () => {
    const longFile = Array.from({ length: 401 }, (_, i) => `export const v${i} = ${i};`).join('\n');
    expect(await ruleIds('agent/x.ts', longFile)).toContain('max-lines');
    const longFunction = `export function f(): number {\n  let x = 0;\n${statements(80)}\n  return x;\n}\n`;
    expect(await ruleIds('drivers/x.ts', longFunction)).toContain('max-lines-per-function');
  });

  it('allow a function of 80 lines, and long test files', async () => {
    const fits = `export function f(): number {\n  let x = 0;\n${statements(76)}\n  return x;\n}\n`;
    expect(await ruleIds('receiver/x.ts', fits)).not.toContain('max-lines-per-function');
    const longTest = Array.from({ length: 401 }, (_, i) => `export const v${i} = ${i};`).join('\n');
    expect(await ruleIds('test/unit/x.test.ts', longTest)).not.toContain('max-lines');
  });
});

describe('error habits (eslint.config.js)', () => {
  async function findings(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message);
  }

  it('report a bare catch and an error logged as String(err) in product code', async () => {
    const bare =
      'export function f(g: () => void): void {\n  try {\n    g();\n  } catch {\n    return;\n  }\n}\n';
    expect(await findings('agent/pipeline/x.ts', bare)).toEqual([expect.stringContaining('bare catch')]);
    expect(await findings('drivers/zmq/x.ts', bare)).toHaveLength(1);
    const stringified =
      'export function f(log: { error(o: object, m: string): void }, err: unknown): void {\n' +
      "  log.error({ err: String(err) }, 'failed');\n}\n";
    expect(await findings('receiver/x.ts', stringified)).toEqual([expect.stringContaining('log { err }')]);
  });

  it('allow a narrowed catch, a logged { err }, and bare catches in tests', async () => {
    const narrowed =
      "import { isErrno } from '../errors.ts';\n" +
      'export function f(g: () => void): void {\n  try {\n    g();\n  } catch (err) {\n' +
      "    if (!isErrno(err, 'ENOENT')) throw err;\n  }\n}\n";
    expect(await findings('agent/pipeline/x.ts', narrowed)).toEqual([]);
    const logged =
      "export function f(log: { error(o: object, m: string): void }, err: unknown): void {\n  log.error({ err }, 'failed');\n}\n";
    expect(await findings('agent/x.ts', logged)).toEqual([]);
    const bare =
      'export function f(g: () => void): void {\n  try {\n    g();\n  } catch {\n    return;\n  }\n}\n';
    expect(await findings('test/unit/x.test.ts', bare)).toEqual([]);
  });
});
