// Follows the rig's GNSS fixes through the configured geofences for the chunk records: the fence
// ids it was in during a chunk, and the windows it spent outside every fence (signed as gaps).
import { CdrReader } from '@foxglove/cdr';
import type { Sample } from '../../drivers/types.ts';
import { geofenceOf, type Geofence } from '../records/geofence.ts';

/** What a chunk record signs about geofences. */
export interface ChunkGeofences {
  /** Fence ids in order of first fix inside them during the chunk. */
  regions: string[];
  /** Windows with fixes outside every fence (capture ns, decimal strings). */
  outside: Array<{ startNs: string; endNs: string }>;
}

/** Latitude and longitude of a CDR `sensor_msgs/msg/NavSatFix`, or undefined when unreadable. */
export function navSatFixPosition(data: Uint8Array): { lat: number; lon: number } | undefined {
  try {
    const r = new CdrReader(data);
    r.int32(); // header.stamp.sec
    r.uint32(); // header.stamp.nanosec
    r.string(); // header.frame_id
    r.int8(); // status.status
    r.uint16(); // status.service
    const lat = r.float64();
    const lon = r.float64();
    return { lat, lon };
  } catch (err) {
    if (err instanceof RangeError || err instanceof TypeError) return undefined;
    throw err;
  }
}

/** Tracks fixes of the GNSS streams (NavSatFix over CDR) against the geofences. */
export class GeofenceTracker {
  readonly #fences: readonly Geofence[];
  readonly #gnssStreams: ReadonlySet<string>;
  #regions: string[] = [];
  #outside: Array<{ startNs: bigint; endNs: bigint }> = [];
  /** The open outside-window, carried across chunks while the rig stays out. */
  #out: { startNs: bigint; endNs: bigint } | undefined;

  constructor(options: { fences: readonly Geofence[]; gnssStreams: readonly string[] }) {
    this.#fences = options.fences;
    this.#gnssStreams = new Set(options.gnssStreams);
  }

  /** Notes a sample; only fixes of GNSS streams count. */
  observe(sample: Sample): void {
    if (!this.#gnssStreams.has(sample.stream)) return;
    const pos = navSatFixPosition(sample.data);
    if (pos === undefined) return;
    const region = geofenceOf(this.#fences, pos.lon, pos.lat);
    if (region === null) {
      if (this.#out === undefined) this.#out = { startNs: sample.captureNs, endNs: sample.captureNs };
      else this.#out.endNs = sample.captureNs;
      return;
    }
    if (this.#out !== undefined) {
      // The window ends where the rig is seen back inside a fence.
      this.#outside.push({ startNs: this.#out.startNs, endNs: sample.captureNs });
      this.#out = undefined;
    }
    if (!this.#regions.includes(region)) this.#regions.push(region);
  }

  /** What the chunk just committed signs; an outside-window still open is cut at the chunk's end. */
  takeChunk(): ChunkGeofences {
    const windows = [...this.#outside];
    if (this.#out !== undefined) {
      windows.push({ ...this.#out });
      this.#out = { startNs: this.#out.endNs, endNs: this.#out.endNs };
    }
    const out: ChunkGeofences = {
      regions: this.#regions,
      outside: windows.map((w) => ({ startNs: w.startNs.toString(), endNs: w.endNs.toString() })),
    };
    this.#regions = [];
    this.#outside = [];
    return out;
  }
}
