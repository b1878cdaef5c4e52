// The store's retention policy: how many days a chunk is kept, chosen by the purpose and the site
// its signed record states. A file of JSON (README "Store retention"):
//   { "defaultDays": null, "purposes": { "training": 7, "audit": 30 }, "sites": { "depot-3": 90 } }
// When both a purpose and a site rule match, the longer wins; when none matches, `defaultDays`
// (null or absent: kept until an operator decides).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RigcapError } from '../../agent/errors.ts';

/** A parsed retention policy. */
export interface RetentionPolicy {
  defaultDays: number | null;
  purposes: ReadonlyMap<string, number>;
  sites: ReadonlyMap<string, number>;
  /** SHA-256 of the policy file's bytes, named in every retention-action reason. */
  sha256: string;
}

/** The rule that keeps a chunk: its days and which rule gave them. */
export interface RetentionRule {
  days: number;
  rule: string;
}

function daysMap(value: unknown, where: string, problems: string[]): Map<string, number> {
  const out = new Map<string, number>();
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${where}: an object of name → days`);
    return out;
  }
  for (const [name, days] of Object.entries(value)) {
    if (typeof days === 'number' && Number.isSafeInteger(days) && days >= 0) out.set(name, days);
    else problems.push(`${where}.${name}: a whole number of days ≥ 0`);
  }
  return out;
}

/** Parses a policy document; every problem is listed in one error. */
export function parseRetentionPolicy(bytes: Uint8Array, source = 'retention policy'): RetentionPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `${source}: not JSON (${(err as Error).message})`);
  }
  const problems: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `${source}: a JSON object is expected`);
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!['defaultDays', 'purposes', 'sites'].includes(k)) problems.push(`${k}: unknown key`);
  const d = o['defaultDays'];
  const defaultOk =
    d === undefined || d === null || (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
  if (!defaultOk) problems.push('defaultDays: a whole number of days ≥ 0, or null');
  const purposes = daysMap(o['purposes'], 'purposes', problems);
  const sites = daysMap(o['sites'], 'sites', problems);
  if (problems.length > 0)
    throw new RigcapError('RIGCAP_CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  return {
    defaultDays: typeof d === 'number' ? d : null,
    purposes,
    sites,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Reads and parses a policy file. */
export async function loadRetentionPolicy(path: string): Promise<RetentionPolicy> {
  return parseRetentionPolicy(await readFile(path), path);
}

/** The days a chunk of `purpose` captured at `site` is kept, or undefined when it is kept until decided. */
export function retentionRuleFor(
  policy: RetentionPolicy,
  chunk: { purpose: string | null; site: string | null },
): RetentionRule | undefined {
  const rules: RetentionRule[] = [];
  const p = chunk.purpose === null ? undefined : policy.purposes.get(chunk.purpose);
  if (p !== undefined) rules.push({ days: p, rule: `purpose ${chunk.purpose} keeps ${p} days` });
  const s = chunk.site === null ? undefined : policy.sites.get(chunk.site);
  if (s !== undefined) rules.push({ days: s, rule: `site ${chunk.site} keeps ${s} days` });
  if (rules.length === 0)
    return policy.defaultDays === null
      ? undefined
      : { days: policy.defaultDays, rule: `default keeps ${policy.defaultDays} days` };
  return rules.reduce((a, b) => (b.days > a.days ? b : a));
}
