// Lint: typescript-eslint's recommended rules plus the project's habits (no `any` on public
// surfaces, no floating promises are caught by review and tsc strictness). Formatting is prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Dependency rules: which folder may import which. Each zone names a folder and either the paths (from
// the repository root) its files must not import, or the only ones they may. The rules are compiled
// into `no-restricted-imports` (static imports and re-exports) and `no-restricted-syntax` (dynamic
// `import()`) per folder depth, so a relative specifier is matched against the exact root path it
// reaches. test/unit/lint/boundaries.test.ts checks that a forbidden import is reported.
const zones = [
  {
    folder: 'agent',
    forbid: ['scripts/', 'test/'],
    because: 'product code never imports scripts/ or test/ (benchmarks and test tools live there)',
  },
  {
    folder: 'drivers',
    forbid: ['agent/', 'receiver/', 'scripts/', 'test/'],
    because: 'drivers produce Samples and know nothing else (drivers/types.ts is the boundary)',
  },
  {
    folder: 'receiver',
    // Besides the shared formats: the crash-safe file helpers (agent/fsutil/), the one error
    // catalogue (its RIGCAP_RECEIVER_* codes) and the pino setup, which every program uses.
    only: ['receiver/', 'agent/records/', 'agent/fsutil/', 'agent/errors.ts', 'agent/log.ts'],
    because: 'the receiver shares only the record formats (agent/records/) with the agent',
  },
  {
    folder: 'agent/config',
    forbid: ['agent/pipeline/', 'agent/deid/', 'agent/sync/', 'agent/catalog/', 'agent/ops/', 'drivers/'],
    because: 'config is data: it is read by the pipeline, never the other way round',
  },
  {
    folder: 'agent/fsutil',
    only: ['agent/fsutil/', 'agent/errors.ts'],
    because: 'the file helpers are shared by the agent and the receiver, so they import neither',
  },
  {
    folder: 'agent/records',
    only: ['agent/records/'],
    modules: [
      '^(node:)?(fs|net|http|https|http2|tls|dgram|dns|child_process|worker_threads|cluster|readline)(/.*)?$',
      '^(better-sqlite3|undici|zeromq|fastify|sharp|onnxruntime-node|pino|rclnodejs|@tus/.*)(/.*)?$',
    ],
    because:
      'records take bytes and return bytes: no I/O, and nothing outside agent/records/ but pure libraries',
  },
];

// Imports that cross a boundary today, each named with the reason it still stands (`from` is one
// file). Remove an entry when its import goes.
const boundaryExceptions = [
  // CLI commands that drive tools from scripts/: `rigcap demo` runs the simulated rig, `rigcap bench`
  // the benchmarks, `rigcap bundle` the offline bundle builder (the last two import lazily).
  { from: 'agent/cli/demo.ts', to: 'scripts/sim-rig/', why: 'rigcap demo starts the simulated rig' },
  { from: 'agent/cli/bench.ts', to: 'scripts/bench/', why: 'rigcap bench runs the benchmarks' },
  { from: 'agent/cli/bundle.ts', to: 'scripts/bundle/', why: 'rigcap bundle builds the offline bundle' },
];

// Error habits (STYLE.md) in product code: a catch names the error it expects, and a log line
// carries the error itself, so pino keeps its stack, code and cause.
const errorHabits = [
  {
    selector: 'CatchClause[param=null]',
    message:
      'catch (err) and narrow it to what it expects (isErrno(err, ...)) or log it: a bare catch hides real failures',
  },
  {
    selector: "Property[key.name='err'] > CallExpression[callee.name='String']",
    message: 'log { err }, not String(err): pino keeps its stack, code and cause',
  },
];

// Files that still break an error habit, each named; remove an entry once its file is fixed.
const errorHabitExceptions = [];

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Regexes over import specifiers for a file `depth` folders below the root, in `dirParts`. */
function specifierPatterns(dirParts, zonesHere, exceptionsHere) {
  const res = [];
  for (let up = 1; up <= dirParts.length; up++) {
    const base = dirParts.slice(0, dirParts.length - up).join('/');
    const rel = (p) => (base === '' ? p : p.startsWith(`${base}/`) ? p.slice(base.length + 1) : undefined);
    const prefix = `^(\\.\\./){${up}}`;
    const spared = exceptionsHere.map((e) => rel(e.to)).filter((r) => r !== undefined && r !== '');
    const spare = spared.length === 0 ? '' : `(?!${spared.map(escapeRe).join('|')})`;
    for (const zone of zonesHere) {
      if (zone.forbid !== undefined) {
        const reached = zone.forbid.map(rel).filter((r) => r !== undefined && r !== '');
        if (reached.length > 0)
          res.push({ regex: `${prefix}${spare}(${reached.map(escapeRe).join('|')})`, message: zone.because });
      } else {
        // An allow-list zone: inside an allowed folder already, anything below `base` is fine.
        if (zone.only.some((p) => `${base}/`.startsWith(p))) continue;
        const allowed = zone.only.map(rel).filter((r) => r !== undefined);
        const keep = [...allowed, ...spared].map(escapeRe);
        res.push({
          regex: `${prefix}${keep.length === 0 ? '' : `(?!${keep.join('|')})`}`,
          message: zone.because,
        });
      }
    }
  }
  for (const zone of zonesHere)
    for (const m of zone.modules ?? []) res.push({ regex: m, message: zone.because });
  return res;
}

function boundaryBlock(files, dirParts, exceptionsHere, habits) {
  const zonesHere = zones.filter((z) => `${dirParts.join('/')}/`.startsWith(`${z.folder}/`));
  const patterns = specifierPatterns(dirParts, zonesHere, exceptionsHere);
  // esquery regexes cannot hold a slash, so the dynamic-import selectors spell it \x2F.
  const selectors = patterns.map((p) => ({
    selector: `ImportExpression[source.value=/${p.regex.replaceAll('/', '\\x2F')}/]`,
    message: p.message,
  }));
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': ['error', ...selectors, ...habits],
    },
  };
}

/** One block per zone folder and depth (shallow first, so deeper zones add to the outer ones). */
function boundaryBlocks() {
  const blocks = [];
  const folders = [...new Set(zones.map((z) => z.folder))].sort(
    (a, b) => a.split('/').length - b.split('/').length,
  );
  for (const folder of folders) {
    for (let below = 0; below <= 4; below++) {
      const glob = `${folder}/${'*/'.repeat(below)}*.{ts,js,mjs}`;
      const dirParts = [...folder.split('/'), ...Array.from({ length: below }, () => '*')];
      blocks.push(boundaryBlock([glob], dirParts, [], errorHabits));
    }
  }
  // Files named in an exception list get their own block (a later block replaces a rule's options).
  for (const file of new Set([...boundaryExceptions.map((e) => e.from), ...errorHabitExceptions])) {
    const exceptionsHere = boundaryExceptions.filter((e) => e.from === file);
    const habits = errorHabitExceptions.includes(file) ? [] : errorHabits;
    blocks.push(boundaryBlock([file], file.split('/').slice(0, -1), exceptionsHere, habits));
  }
  return blocks;
}

// A source file past 400 lines or a function past 80 is split (STYLE.md: a file is one idea).
const sourceFiles = [
  'agent/**/*.{ts,js}',
  'drivers/**/*.{ts,js}',
  'receiver/**/*.{ts,js}',
  'scripts/**/*.{ts,js}',
  'bin/**/*.js',
];

// Files still over those limits, each with the size it measured: the ceiling stays an error, so
// these files cannot grow while they wait to be split. Shrink this list as files are split; never add
// to it.
/** @type {Record<string, Record<string, number>>} */
const oversizeFiles = {};

/** Per-file ceilings for the files oversizeFiles names. */
const sizeOverrides = Object.entries(oversizeFiles).map(([file, ceilings]) => ({
  files: [file],
  rules: Object.fromEntries(
    Object.entries(ceilings).map(([rule, max]) => [
      rule,
      ['error', { max, skipBlankLines: true, skipComments: true }],
    ]),
  ),
}));

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.cache/',
      'rigcap-demo/',
      'rigcap-sim/',
      'test-output/',
      'coverage/',
      '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        fetch: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  ...boundaryBlocks(),
  {
    files: sourceFiles,
    rules: {
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
    },
  },
  ...sizeOverrides,
);
