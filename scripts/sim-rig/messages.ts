// ROS 2 messages of the simulated rig, built as plain objects and CDR-encoded with the bundled
// definitions, so what goes on the wire is exactly what a ROS 2 node would publish.
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { rosMessageDefinitions } from '../../drivers/ros-schemas.ts';

/** ROS 2 builtin_interfaces/Time. */
export interface RosTime {
  sec: number;
  nanosec: number;
}

/** ns since epoch → builtin_interfaces/Time. */
export function rosTime(captureNs: bigint): RosTime {
  return { sec: Number(captureNs / 1_000_000_000n), nanosec: Number(captureNs % 1_000_000_000n) };
}

const writers = new Map<string, MessageWriter>();

/** CDR-encodes `message` as ROS 2 `type` (writers are built once per type). */
export function encodeCdr(type: string, message: unknown): Uint8Array {
  let writer = writers.get(type);
  if (writer === undefined) {
    const definitions = rosMessageDefinitions(type);
    if (definitions === undefined) throw new Error(`no bundled ROS 2 definition for ${type}`);
    writer = new MessageWriter(definitions);
    writers.set(type, writer);
  }
  return writer.writeMessage(message);
}

/** A pinhole camera model for a width×height image (plumb_bob, mild distortion). */
export function cameraInfoMessage(options: {
  captureNs: bigint;
  frameId: string;
  width: number;
  height: number;
}): unknown {
  const fx = options.width * 0.7;
  const cx = options.width / 2;
  const cy = options.height / 2;
  return {
    header: { stamp: rosTime(options.captureNs), frame_id: options.frameId },
    height: options.height,
    width: options.width,
    distortion_model: 'plumb_bob',
    d: [-0.28, 0.07, 0.0002, -0.0001, 0],
    k: [fx, 0, cx, 0, fx, cy, 0, 0, 1],
    r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    p: [fx, 0, cx, 0, 0, fx, cy, 0, 0, 0, 1, 0],
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

/** sensor_msgs/CompressedImage around an already encoded JPEG. */
export function compressedImageMessage(options: {
  captureNs: bigint;
  frameId: string;
  jpeg: Uint8Array;
}): unknown {
  return {
    header: { stamp: rosTime(options.captureNs), frame_id: options.frameId },
    format: 'jpeg',
    data: options.jpeg,
  };
}

/** An IMU on a vehicle driving a slow circle: gravity, centripetal acceleration, yaw rate, noise. */
export function imuMessage(options: { captureNs: bigint; elapsedS: number; noise: () => number }): unknown {
  const yawRate = 0.05;
  const yaw = options.elapsedS * yawRate;
  const n = options.noise;
  return {
    header: { stamp: rosTime(options.captureNs), frame_id: 'imu_link' },
    orientation: { x: 0, y: 0, z: Math.sin(yaw / 2), w: Math.cos(yaw / 2) },
    orientation_covariance: [1e-4, 0, 0, 0, 1e-4, 0, 0, 0, 1e-4],
    angular_velocity: { x: 0.002 * n(), y: 0.002 * n(), z: yawRate + 0.002 * n() },
    angular_velocity_covariance: [4e-6, 0, 0, 0, 4e-6, 0, 0, 0, 4e-6],
    linear_acceleration: { x: 0.02 * n(), y: 0.5 + 0.02 * n(), z: 9.81 + 0.02 * n() },
    linear_acceleration_covariance: [4e-4, 0, 0, 0, 4e-4, 0, 0, 0, 4e-4],
  };
}

/** A GNSS fix moving on a circle of ~200 m around a fixed point. */
export function navSatFixMessage(options: { captureNs: bigint; elapsedS: number }): unknown {
  const angle = options.elapsedS * 0.05;
  return {
    header: { stamp: rosTime(options.captureNs), frame_id: 'gnss_link' },
    status: { status: 0, service: 1 },
    latitude: 48.137154 + 0.0018 * Math.sin(angle),
    longitude: 11.576124 + 0.0027 * Math.cos(angle),
    altitude: 519.3,
    position_covariance: [0.64, 0, 0, 0, 0.64, 0, 0, 0, 2.25],
    position_covariance_type: 2,
  };
}

interface TransformSpec {
  parent: string;
  child: string;
  xyz: [number, number, number];
  yaw: number;
}

/** The rig's fixed sensor mounts (base_link → sensors). */
export const staticTransforms: readonly TransformSpec[] = [
  { parent: 'base_link', child: 'camera_front', xyz: [1.8, 0, 1.4], yaw: 0 },
  { parent: 'base_link', child: 'camera_rear', xyz: [-0.6, 0, 1.4], yaw: Math.PI },
  { parent: 'base_link', child: 'lidar_link', xyz: [0.9, 0, 1.9], yaw: 0 },
  { parent: 'base_link', child: 'imu_link', xyz: [0.2, 0, 0.5], yaw: 0 },
  { parent: 'base_link', child: 'gnss_link', xyz: [0, 0, 1.95], yaw: 0 },
];

function transformStamped(captureNs: bigint, spec: TransformSpec): unknown {
  return {
    header: { stamp: rosTime(captureNs), frame_id: spec.parent },
    child_frame_id: spec.child,
    transform: {
      translation: { x: spec.xyz[0], y: spec.xyz[1], z: spec.xyz[2] },
      rotation: { x: 0, y: 0, z: Math.sin(spec.yaw / 2), w: Math.cos(spec.yaw / 2) },
    },
  };
}

/** /tf_static: every sensor mount. */
export function tfStaticMessage(options: { captureNs: bigint }): unknown {
  return { transforms: staticTransforms.map((spec) => transformStamped(options.captureNs, spec)) };
}

/** /tf: odom → base_link on a 20 m circle. */
export function tfMessage(options: { captureNs: bigint; elapsedS: number }): unknown {
  const angle = options.elapsedS * 0.05;
  return {
    transforms: [
      transformStamped(options.captureNs, {
        parent: 'odom',
        child: 'base_link',
        xyz: [20 * Math.cos(angle), 20 * Math.sin(angle), 0],
        yaw: angle + Math.PI / 2,
      }),
    ],
  };
}
