// `policy.geofencesFile`: capture regions kept in a GeoJSON file (a FeatureCollection of Polygon
// features whose `properties.id` names each fence), read once at load and added to policy.geofences.
import { readFileSync } from 'node:fs';
import type { Geofence } from '../records/geofence.ts';
import type { ConfigIssue } from './load.ts';

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True for a GeoJSON Polygon whose rings are lists of [lon, lat(, alt)] number positions. */
function isPolygon(g: unknown): g is Geofence['polygon'] {
  const p = g as { type?: unknown; coordinates?: unknown } | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    p.type === 'Polygon' &&
    Array.isArray(p.coordinates) &&
    p.coordinates.length > 0 &&
    p.coordinates.every(
      (ring: unknown) =>
        Array.isArray(ring) &&
        ring.length >= 4 &&
        ring.every(
          (pos: unknown) =>
            Array.isArray(pos) &&
            pos.length >= 2 &&
            pos.length <= 3 &&
            pos.every((n) => typeof n === 'number'),
        ),
    )
  );
}

/** The fences in a GeoJSON file, or the problems that keep it from loading. */
export function readGeofenceFile(file: string): { fences: Geofence[]; issues: ConfigIssue[] } {
  const path = 'policy.geofencesFile';
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!(err instanceof SyntaxError) && e.code === undefined) throw err;
    return {
      fences: [],
      issues: [
        { path, message: `${file}: ${e.message}`, fix: 'point it at a readable GeoJSON FeatureCollection' },
      ],
    };
  }
  const d = doc as { type?: unknown; features?: unknown } | null;
  const features = d?.type === 'FeatureCollection' && Array.isArray(d.features) ? d.features : [doc];
  const fences: Geofence[] = [];
  const issues: ConfigIssue[] = [];
  features.forEach((f: unknown, i) => {
    const feature = f as { type?: unknown; geometry?: unknown; properties?: { id?: unknown } | null } | null;
    const id = feature?.properties?.id;
    if (
      feature?.type !== 'Feature' ||
      typeof id !== 'string' ||
      !idPattern.test(id) ||
      !isPolygon(feature.geometry)
    )
      issues.push({
        path: `${path} features[${i}]`,
        message: 'not a Feature with a Polygon geometry and a properties.id',
        fix: `give each feature { type: Feature, geometry: { type: Polygon, coordinates }, properties: { id } } (id matches ${idPattern.source})`,
      });
    else fences.push({ id, polygon: feature.geometry });
  });
  return { fences, issues };
}
