// Geofences: which configured GeoJSON polygon a GNSS fix lies in (pure). Only the fence id ever
// reaches a record, never coordinates.

/** A GeoJSON Polygon: rings of [longitude, latitude] positions, the first outer, the rest holes. */
export interface GeoJsonPolygon {
  type: 'Polygon';
  coordinates: number[][][];
}

export interface Geofence {
  id: string;
  polygon: GeoJsonPolygon;
}

/** Even-odd ray casting of one ring. */
function inRing(lon: number, lat: number, ring: readonly number[][]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi = 0, yi = 0] = ring[i] ?? [];
    const [xj = 0, yj = 0] = ring[j] ?? [];
    if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** True when the point lies inside the polygon's outer ring and outside every hole. */
export function polygonContains(polygon: GeoJsonPolygon, lon: number, lat: number): boolean {
  const [outer, ...holes] = polygon.coordinates;
  if (outer === undefined || !inRing(lon, lat, outer)) return false;
  return !holes.some((h) => inRing(lon, lat, h));
}

/** Id of the first geofence containing the point, or null when it lies outside all of them. */
export function geofenceOf(fences: readonly Geofence[], lon: number, lat: number): string | null {
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) return null;
  return fences.find((f) => polygonContains(f.polygon, lon, lat))?.id ?? null;
}
