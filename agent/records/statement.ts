// in-toto Statement v1: what a record's payload is.
import type { PredicateName } from './predicates.ts';
import { predicateTypeOf } from './predicates.ts';

export const statementType = 'https://in-toto.io/Statement/v1';

export interface ResourceDescriptor {
  name: string;
  digest: { sha256: string };
}

export interface Statement<P = unknown> {
  _type: typeof statementType;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: P;
}

/** Builds a Statement for a rigcap predicate. */
export function buildStatement<P>(
  name: PredicateName,
  subject: ResourceDescriptor[],
  predicate: P,
): Statement<P> {
  return { _type: statementType, subject, predicateType: predicateTypeOf(name), predicate };
}
