// Geofences: point-in-polygon with holes, and the tracker that turns GNSS fixes (CDR NavSatFix, as
// the sim rig publishes them) into the fence ids and outside-windows a chunk record signs.
import { describe, expect, it } from 'vitest';
import { GeofenceTracker, navSatFixPosition } from '../../../agent/pipeline/geofence-tracker.ts';
import { geofenceOf, polygonContains, type GeoJsonPolygon } from '../../../agent/records/geofence.ts';
import { sessionGaps } from '../../../agent/records/gaps.ts';
import { describeGap } from '../../../agent/records/gap-text.ts';
import type { CaptureChunkPredicate } from '../../../agent/records/predicates.ts';
import { encodeCdr } from '../../../scripts/sim-rig/messages.ts';
import type { Sample } from '../../../drivers/types.ts';

const square = (x0: number, y0: number, x1: number, y1: number): number[][] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
  [x0, y0],
];
const depot: GeoJsonPolygon = {
  type: 'Polygon',
  coordinates: [square(11, 48, 12, 49), square(11.4, 48.4, 11.6, 48.6)],
};
const yard: GeoJsonPolygon = { type: 'Polygon', coordinates: [square(13, 48, 14, 49)] };
const fences = [
  { id: 'depot', polygon: depot },
  { id: 'yard', polygon: yard },
];

function fix(lat: number, lon: number, captureNs: bigint, stream = 'gnss'): Sample {
  const data = encodeCdr('sensor_msgs/msg/NavSatFix', {
    header: { stamp: { sec: 1, nanosec: 2 }, frame_id: 'gnss_link' },
    status: { status: 0, service: 1 },
    latitude: lat,
    longitude: lon,
    altitude: 500,
    position_covariance: [0, 0, 0, 0, 0, 0, 0, 0, 0],
    position_covariance_type: 0,
  });
  return {
    stream,
    seq: 0,
    captureNs,
    monoNs: captureNs,
    encoding: 'cdr',
    schemaRef: '',
    data,
  } as unknown as Sample;
}

describe('geofences', () => {
  it('places a point inside the outer ring and outside the holes', () => {
    expect(polygonContains(depot, 11.2, 48.2)).toBe(true);
    expect(polygonContains(depot, 11.5, 48.5)).toBe(false); // in the hole
    expect(polygonContains(depot, 12.5, 48.5)).toBe(false);
    expect(geofenceOf(fences, 13.5, 48.5)).toBe('yard');
    expect(geofenceOf(fences, 20, 20)).toBeNull();
    expect(geofenceOf(fences, Number.NaN, 48.5)).toBeNull();
  });

  it('reads latitude and longitude from a CDR NavSatFix and refuses a truncated one', () => {
    expect(navSatFixPosition(fix(48.2, 11.3, 1n).data)).toEqual({ lat: 48.2, lon: 11.3 });
    expect(navSatFixPosition(fix(48.2, 11.3, 1n).data.subarray(0, 20))).toBeUndefined();
  });

  it('signs the fences visited and the windows outside all of them, carried across chunks', () => {
    const t = new GeofenceTracker({ fences, gnssStreams: ['gnss'] });
    t.observe(fix(48.2, 11.2, 10n));
    t.observe(fix(48.5, 11.5, 20n)); // the hole: outside
    t.observe(fix(48.5, 11.5, 30n, 'imu')); // not a GNSS stream
    t.observe(fix(48.5, 20, 40n)); // still outside
    expect(t.takeChunk()).toEqual({ regions: ['depot'], outside: [{ startNs: '20', endNs: '40' }] });
    t.observe(fix(48.5, 13.5, 50n)); // back inside: the window closes here
    t.observe(fix(48.2, 11.2, 60n));
    expect(t.takeChunk()).toEqual({ regions: ['yard', 'depot'], outside: [{ startNs: '40', endNs: '50' }] });
    expect(t.takeChunk()).toEqual({ regions: [], outside: [] });
  });

  it('a window outside every geofence becomes a geofence_exit gap of the session', () => {
    const chunk = {
      sessionId: 's',
      chunkIndex: 1,
      startNs: '0',
      endNs: '100',
      bytes: '1',
      streams: [],
      timesync: {
        source: 'chrony',
        startNs: '0',
        endNs: '100',
        intervals: [{ state: 'locked', startNs: '0', endNs: '100' }],
        offsetNs: null,
        dispersionNs: null,
        samples: 1,
        steps: [],
        stateAtEnd: 'locked',
      },
      calibration: [],
      transforms: [],
      producer: { rigcapVersion: 't', configDigest: 'd' },
      policy: { residency: 'r', retentionDays: 1, purpose: 'p' },
      regions: ['depot'],
      outsideGeofences: [{ startNs: '20', endNs: '40' }],
    } as unknown as CaptureChunkPredicate;
    const gaps = sessionGaps({ chunks: [chunk] }).filter((g) => g.kind === 'geofence_exit');
    expect(gaps).toEqual([{ startNs: '20', endNs: '40', cause: 'outside_geofences', kind: 'geofence_exit' }]);
    expect(describeGap(gaps[0]!)).toMatch(/outside every geofence/);
  });
});
