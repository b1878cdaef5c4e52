// Load a YAML config: parse, migrate, validate against the JSON Schema (all errors at once, each
// naming the path and the fix), normalise units and paths, then freeze.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parseDocument } from 'yaml';
import { RigcapError, errnoCode } from '../errors.ts';
import { migrateConfig } from './migrations.ts';
import { normaliseConfig } from './normalise.ts';
import { configSchema } from './schema.ts';
import { readGeofenceFile } from './geofence-file.ts';
import { configSnapshot, snapshotDigest } from './snapshot.ts';
import { isImageStream } from './image-streams.ts';
import type { RigcapConfig, ValidatedConfig } from './types.ts';

export { parseByteSize } from './normalise.ts';

/** One problem in a config file. */
export interface ConfigIssue {
  /** Dotted path (`streams[2].queue.size`), or `(file)` for parse errors. */
  path: string;
  message: string;
  fix: string;
}

export interface LoadedConfig {
  config: Readonly<RigcapConfig>;
  /** sha256 (hex) of the JCS of the validated config with secrets removed (config/snapshot.ts): producer.configDigest. */
  digest: string;
  /** Migrations that ran, oldest first. */
  migrations: string[];
  file: string | undefined;
}

let validator: ValidateFunction<ValidatedConfig> | undefined;
function validate(): ValidateFunction<ValidatedConfig> {
  if (validator === undefined) {
    const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false });
    // ajv-formats is CommonJS: its module object is the plugin, and `default` names it too.
    addFormats.default(ajv);
    validator = ajv.compile<ValidatedConfig>(configSchema);
  }
  return validator;
}

/** Reads and validates a config file. Throws RIGCAP_CONFIG_* with every issue listed. */
export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RigcapError(
      'RIGCAP_CONFIG_UNREADABLE',
      `cannot read config ${file} (${errnoCode(err) ?? String(err)})`,
      {
        cause: err,
      },
    );
  }
  return parseConfig(text, { file, baseDir: dirname(resolve(file)) });
}

/** Validates config text (YAML or JSON). Relative paths resolve against `baseDir`. */
export function parseConfig(text: string, where: { file?: string; baseDir: string }): LoadedConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw invalid(
      where.file,
      doc.errors.map((e) => ({
        path: '(file)',
        message: e.message.split('\n')[0] ?? e.message,
        fix: 'fix the YAML syntax',
      })),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(where.file, [
      { path: '(file)', message: 'config must be a YAML mapping', fix: 'start from config/sim-rig.yaml' },
    ]);
  }
  const { config: migrated, applied } = migrateConfig(raw as Record<string, unknown>);
  const check = validate();
  if (!check(migrated)) throw invalid(where.file, describeErrors(check.errors ?? []));
  const config = normaliseConfig(migrated, where.baseDir);
  if (config.policy.geofencesFile !== '') {
    const read = readGeofenceFile(config.policy.geofencesFile);
    if (read.issues.length > 0) throw invalid(where.file, read.issues);
    config.policy.geofences = [...config.policy.geofences, ...read.fences];
  }
  const semantic = semanticIssues(config);
  if (semantic.length > 0) throw invalid(where.file, semantic);
  // The digest is the secret-free snapshot's, so a session record can carry the config it names.
  const digest = snapshotDigest(configSnapshot(config));
  return { config: deepFreeze(config), digest, migrations: applied, file: where.file };
}

function invalid(file: string | undefined, issues: ConfigIssue[]): RigcapError {
  const lines = issues.map((i) => `  - ${i.path}: ${i.message} (fix: ${i.fix})`);
  return new RigcapError(
    'RIGCAP_CONFIG_INVALID',
    `${file ?? 'config'} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`,
    { details: { issues } },
  );
}

/** Turns ajv errors into path + message + fix, dropping the noise of if/then/anyOf wrappers. */
export function describeErrors(errors: readonly ErrorObject[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  for (const e of errors) {
    if (e.keyword === 'if') continue;
    // byte sizes are anyOf(integer, string-with-unit): report once, as the anyOf
    if (anyOfPaths.has(e.instancePath) && e.keyword !== 'anyOf') continue;
    const issue = describeError(e, pointerToPath(e.instancePath));
    const key = `${issue.path}|${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

/** One ajv error as path + message + fix; `path` is the error's instance path, already readable. */
function describeError(e: ErrorObject, path: string): ConfigIssue {
  let issue: ConfigIssue;
  switch (e.keyword) {
    case 'required': {
      const prop = String((e.params as { missingProperty: string }).missingProperty);
      issue = { path: joinPath(path, prop), message: 'is required', fix: `add \`${prop}\`` };
      break;
    }
    case 'additionalProperties': {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      issue = {
        path: joinPath(path, prop),
        message: 'is not a known key',
        fix: `remove \`${prop}\` or check its spelling`,
      };
      break;
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
      issue = { path, message: 'has a value that is not allowed', fix: `use one of ${allowed.join(', ')}` };
      break;
    }
    case 'const':
      issue = {
        path,
        message: 'has the wrong value',
        fix: `set it to ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`,
      };
      break;
    case 'anyOf':
      issue = { path, message: 'is not a valid byte size', fix: 'use an integer or a string like "64MiB"' };
      break;
    case 'type':
      issue = {
        path,
        message: `must be ${String((e.params as { type: string }).type)}`,
        fix: `write a value of type ${String((e.params as { type: string }).type)}`,
      };
      break;
    case 'pattern':
      issue = {
        path,
        message: 'has an invalid format',
        fix:
          e.parentSchema && 'description' in e.parentSchema
            ? String(e.parentSchema['description'])
            : `match ${String((e.params as { pattern: string }).pattern)}`,
      };
      break;
    case 'minimum':
    case 'maximum':
      {
        const { comparison, limit } = e.params as { comparison: string; limit: number };
        issue = {
          path,
          message: `must be ${comparison} ${limit}`,
          fix: `use a value ${comparison} ${limit}`,
        };
      }
      break;
    case 'format':
      issue = {
        path,
        message: `is not a valid ${String((e.params as { format: string }).format)}`,
        fix: 'fix the expression',
      };
      break;
    default:
      issue = { path, message: e.message ?? e.keyword, fix: 'see the config reference in README.md' };
  }
  return issue;
}

function pointerToPath(pointer: string): string {
  if (pointer === '') return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');
}

function joinPath(base: string, prop: string): string {
  return base === '(root)' ? prop : `${base}.${prop}`;
}

function semanticIssues(config: RigcapConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const names = new Map<string, number>();
  const topics = new Map<string, number>();
  config.streams.forEach((s, i) => {
    const prevName = names.get(s.name);
    if (prevName !== undefined) {
      issues.push({
        path: `streams[${i}].name`,
        message: `duplicates streams[${prevName}].name "${s.name}"`,
        fix: 'give every stream a unique name',
      });
    } else names.set(s.name, i);
    const prevTopic = topics.get(s.topic);
    if (prevTopic !== undefined) {
      issues.push({
        path: `streams[${i}].topic`,
        message: `duplicates streams[${prevTopic}].topic "${s.topic}"`,
        fix: 'record each topic once',
      });
    } else topics.set(s.topic, i);
    if (s.maxMessageBytes > s.queue.maxBytes) {
      issues.push({
        path: `streams[${i}].maxMessageBytes`,
        message: 'is larger than queue.maxBytes',
        fix: 'raise queue.maxBytes or lower maxMessageBytes',
      });
    }
  });
  if (!config.deid.enabled) {
    config.streams.forEach((s, i) => {
      if (isImageStream(s) && !s.deid.exempt) {
        issues.push({
          path: `streams[${i}].deid.exempt`,
          message: 'is false for an image stream while deid.enabled is false',
          fix: 'enable deid, or set deid.exempt: true on this stream (every record then says it was not de-identified)',
        });
      }
    });
  }
  if (`${config.keys.dir}/`.startsWith(`${config.spool.dir}/`)) {
    issues.push({
      path: 'keys.dir',
      message: 'is inside spool.dir (private keys never live in a spool)',
      fix: 'put keys.dir beside the spool, e.g. /var/lib/rigcap/secrets',
    });
  }
  if (config.sync.enabled && config.sync.storeUrl === '') {
    issues.push({
      path: 'sync.storeUrl',
      message: 'is empty while sync.enabled is true',
      fix: 'set the store URL or disable sync',
    });
  }
  if (config.streams.length === 0 && !config.ros2.enabled) {
    issues.push({
      path: 'streams',
      message: 'no streams configured',
      fix: 'add at least one stream, or enable ros2 discovery',
    });
  }
  return issues;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}
