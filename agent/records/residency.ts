// Residency: a store region is allowed when the signed policy names it. A store that states no
// region is "unknown", which no allowedRegions list admits.
import type { CaptureChunkPredicate, CustodyReceiptPredicate } from './predicates.ts';

/** The region a store states, or `unknown`. */
export const unknownRegion = 'unknown';

/** Why `region` is not allowed by `allowedRegions`, or undefined when it is (or no list is set). */
export function regionRefusal(
  allowedRegions: readonly string[] | undefined,
  region: string | undefined,
): string | undefined {
  if (allowedRegions === undefined) return undefined;
  const stated = region ?? unknownRegion;
  if (region !== undefined && allowedRegions.includes(region)) return undefined;
  return `store region ${stated} is not among the allowed regions [${allowedRegions.join(', ')}]`;
}

/** Why a receipt's region breaks the policy of the chunk record it names, or undefined. */
export function receiptRegionRefusal(
  receipt: CustodyReceiptPredicate,
  chunk: Pick<CaptureChunkPredicate, 'policy'>,
): string | undefined {
  return regionRefusal(chunk.policy.allowedRegions, receipt.region);
}
