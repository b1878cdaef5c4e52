// A spinning-lidar point cloud (x, y, z, intensity as float32): rings at fixed elevations hitting
// a ground plane and a few building walls. Generated once; each scan is a cheap perturbation.

const pointStepBytes = 16;

/** A scan template: the packed points and its shape. */
export interface LidarScan {
  readonly rings: number;
  readonly pointsPerRing: number;
  readonly data: Float32Array;
}

/** Builds a scan of about `points` points (rings × azimuth steps), deterministic. */
export function generateLidarScan(options: { points: number; rings?: number }): LidarScan {
  const rings = options.rings ?? 64;
  const pointsPerRing = Math.max(1, Math.round(options.points / rings));
  const data = new Float32Array(rings * pointsPerRing * 4);
  const sensorHeightM = 1.9;
  for (let ring = 0; ring < rings; ring++) {
    const elevation = ((-25 + (40 * ring) / Math.max(1, rings - 1)) * Math.PI) / 180;
    for (let step = 0; step < pointsPerRing; step++) {
      const azimuth = (2 * Math.PI * step) / pointsPerRing;
      // Buildings: walls at 12–30 m in alternating sectors; open road in between.
      const sector = Math.floor((azimuth / (2 * Math.PI)) * 12);
      const wallM = sector % 3 === 1 ? 1e9 : 12 + ((sector * 7) % 18);
      const groundM = elevation < 0 ? sensorHeightM / Math.tan(-elevation) : 1e9;
      const wallHeightM = 8 + (sector % 4) * 3;
      const wallHitZ = wallM * Math.tan(elevation);
      const hitsWall = wallM < groundM && wallHitZ > -sensorHeightM && wallHitZ < wallHeightM - sensorHeightM;
      const rangeM = Math.min(
        hitsWall ? wallM / Math.cos(elevation) : 1e9,
        groundM / Math.cos(elevation),
        120,
      );
      const horizontal = rangeM * Math.cos(elevation);
      const i = (ring * pointsPerRing + step) * 4;
      data[i] = horizontal * Math.cos(azimuth);
      data[i + 1] = horizontal * Math.sin(azimuth);
      data[i + 2] = rangeM * Math.sin(elevation);
      data[i + 3] = hitsWall ? 40 + (sector % 5) * 30 : 8 + (ring % 4);
    }
  }
  return { rings, pointsPerRing, data };
}

/**
 * Packed bytes of one scan: the template with a moving band of jitter, so consecutive scans
 * differ (and compress like real ones) without recomputing the geometry.
 */
export function perturbedScanBytes(scan: LidarScan, scanIndex: number, noise: () => number): Uint8Array {
  const copy = new Float32Array(scan.data);
  const pointCount = scan.rings * scan.pointsPerRing;
  const band = Math.max(1, Math.floor(pointCount / 16));
  const start = (scanIndex * band) % pointCount;
  for (let p = start; p < Math.min(pointCount, start + band); p++) {
    const i = p * 4;
    copy[i] = (copy[i] ?? 0) + 0.02 * noise();
    copy[i + 1] = (copy[i + 1] ?? 0) + 0.02 * noise();
    copy[i + 2] = (copy[i + 2] ?? 0) + 0.01 * noise();
  }
  return new Uint8Array(copy.buffer, copy.byteOffset, copy.byteLength);
}

/** sensor_msgs/PointCloud2 fields for the packed layout (float32 x, y, z, intensity). */
export function pointCloud2Message(options: {
  stamp: { sec: number; nanosec: number };
  frameId: string;
  scan: LidarScan;
  data: Uint8Array;
}): unknown {
  const float32 = 7;
  return {
    header: { stamp: options.stamp, frame_id: options.frameId },
    height: options.scan.rings,
    width: options.scan.pointsPerRing,
    fields: [
      { name: 'x', offset: 0, datatype: float32, count: 1 },
      { name: 'y', offset: 4, datatype: float32, count: 1 },
      { name: 'z', offset: 8, datatype: float32, count: 1 },
      { name: 'intensity', offset: 12, datatype: float32, count: 1 },
    ],
    is_bigendian: false,
    point_step: pointStepBytes,
    row_step: pointStepBytes * options.scan.pointsPerRing,
    data: options.data,
    is_dense: true,
  };
}
