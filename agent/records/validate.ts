// Predicate validation (ajv, compiled once per process) and the version-migration hook that lifts
// an older predicate to the current version before it is validated or read.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import {
  currentPredicateVersions,
  parsePredicateType,
  predicateNames,
  type PredicateByName,
  type PredicateName,
} from './predicates.ts';
import { predicateSchemas } from './schemas.ts';

/** Lifts a predicate body of version `from` to `from + 1`. */
export type PredicateMigration = (body: Record<string, unknown>) => Record<string, unknown>;

/** Migrations by predicate name and the version they start from. */
export type PredicateMigrations = Partial<
  Record<PredicateName, Readonly<Record<number, PredicateMigration>>>
>;

/**
 * v1 → v2 of capture-chunk: the capture context is what the v1 policy said (owner, purpose), every
 * other field unknown (null). The signed bytes stay v1; only the verifier's view is lifted.
 */
function captureChunkV1ToV2(body: Record<string, unknown>): Record<string, unknown> {
  const policy = (body['policy'] ?? {}) as Record<string, unknown>;
  const known = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  return {
    ...body,
    context: {
      owner: known(policy['owner']),
      site: null,
      licence: null,
      legalBasis: null,
      consentRef: null,
      purpose: known(policy['purpose']),
      sensors: [],
    },
  };
}

/** v1 → v2 of session: an open record gains context, producer and config snapshot, all unknown. */
function sessionV1ToV2(body: Record<string, unknown>): Record<string, unknown> {
  return body['phase'] === 'open' ? { ...body, context: null, producer: null, config: null } : body;
}

export const predicateMigrations: PredicateMigrations = {
  'capture-chunk': { 1: captureChunkV1ToV2 },
  session: { 1: sessionV1ToV2 },
};

let validators: Map<PredicateName, ValidateFunction> | undefined;

function validatorFor(name: PredicateName): ValidateFunction {
  if (validators === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    validators = new Map(predicateNames.map((n) => [n, ajv.compile(predicateSchemas[n])]));
  }
  const v = validators.get(name);
  if (v === undefined) throw new RangeError(`no schema for ${name}`);
  return v;
}

/** Problems with a predicate body against its schema (empty when valid). */
export function predicateProblems(name: PredicateName, body: unknown): string[] {
  const validate = validatorFor(name);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
}

/** A predicate checked against its schema: a union discriminated on `name`. */
export type CheckedPredicate = {
  [N in PredicateName]: { name: N; predicate: PredicateByName[N] };
}[PredicateName];

/** Checks a (lifted) predicate body against the schema that `name` names. */
export function checkPredicate(
  name: PredicateName,
  body: unknown,
): { ok: true; value: CheckedPredicate } | { ok: false; problems: string[] } {
  const problems = predicateProblems(name, body);
  // The schema for `name` is what PredicateByName[name] states (test/unit/records/predicate-types.test.ts).
  return problems.length > 0
    ? { ok: false, problems }
    : { ok: true, value: { name, predicate: body } as CheckedPredicate };
}

/** Result of lifting a predicate to the current version. */
export type UpgradeResult =
  | { ok: true; name: PredicateName; version: number; body: Record<string, unknown> }
  | { ok: false; reason: string };

/** Applies the migrations from the predicateType's version up to the current one. */
export function upgradePredicate(
  predicateType: string,
  body: unknown,
  options: { migrations?: PredicateMigrations; currentVersion?: number } = {},
): UpgradeResult {
  const parsed = parsePredicateType(predicateType);
  if (parsed === undefined) return { ok: false, reason: `unknown predicateType ${predicateType}` };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, reason: 'predicate is not an object' };
  const current = options.currentVersion ?? currentPredicateVersions[parsed.name];
  if (parsed.version > current)
    return { ok: false, reason: `${predicateType} is newer than this rigcap understands (v${current})` };
  const table = (options.migrations ?? predicateMigrations)[parsed.name] ?? {};
  let out = body as Record<string, unknown>;
  for (let v = parsed.version; v < current; v++) {
    const step = table[v];
    if (step === undefined) return { ok: false, reason: `no migration for ${parsed.name} from v${v}` };
    out = step(out);
  }
  return { ok: true, name: parsed.name, version: current, body: out };
}
