// The capture context a config states (policy.* and streams[].sensor), in the shape the session
// and chunk records sign: '' and absent become null, so "not stated" reads the same everywhere.
import type { CaptureContext, SensorIdentity } from '../records/predicates.ts';
import type { RigcapConfig } from './types.ts';

/** Capture context of a config, for session-open and capture-chunk records. */
export function captureContext(config: Readonly<RigcapConfig>): CaptureContext {
  const p = config.policy;
  const stated = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v);
  const sensors: SensorIdentity[] = [];
  for (const s of config.streams) {
    if (s.sensor === undefined) continue;
    const { serial, firmware } = s.sensor;
    if (serial === undefined && firmware === undefined) continue;
    sensors.push({
      stream: s.name,
      ...(serial === undefined ? {} : { serial }),
      ...(firmware === undefined ? {} : { firmware }),
    });
  }
  return {
    owner: stated(p.owner),
    site: p.site === undefined ? null : { id: p.site.id, name: p.site.name },
    licence: stated(p.licence),
    legalBasis: stated(p.legalBasis),
    consentRef: stated(p.consentRef),
    purpose: stated(p.purpose),
    sensors,
  };
}
