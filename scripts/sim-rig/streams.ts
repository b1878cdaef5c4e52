// What the simulated rig publishes: one entry per topic, with its ROS 2 type and default rate.
// The example stream list for a rigcap config (config/sim-rig.yaml) is derived from the same table.

/** Sensors that can be switched on or off. */
export type SimSensor = 'frontCamera' | 'rearCamera' | 'lidar' | 'imu' | 'gnss' | 'tf';

/** One published topic. */
export interface SimTopic {
  /** Stream name in the example config. */
  readonly stream: string;
  readonly topic: string;
  readonly type: string;
  readonly sensor: SimSensor;
  /** Default publish rate. */
  readonly rateHz: number;
  readonly latched: boolean;
  /** Sync priority in the example config (0 highest). */
  readonly priority: number;
}

/** Every topic of the rig, in a stable order. */
export const simTopics: readonly SimTopic[] = [
  {
    stream: 'front_camera',
    topic: '/camera/front/image/compressed',
    type: 'sensor_msgs/msg/CompressedImage',
    sensor: 'frontCamera',
    rateHz: 15,
    latched: false,
    priority: 3,
  },
  {
    stream: 'front_camera_info',
    topic: '/camera/front/camera_info',
    type: 'sensor_msgs/msg/CameraInfo',
    sensor: 'frontCamera',
    rateHz: 1,
    latched: true,
    priority: 1,
  },
  {
    stream: 'rear_camera',
    topic: '/camera/rear/image/compressed',
    type: 'sensor_msgs/msg/CompressedImage',
    sensor: 'rearCamera',
    rateHz: 10,
    latched: false,
    priority: 4,
  },
  {
    stream: 'rear_camera_info',
    topic: '/camera/rear/camera_info',
    type: 'sensor_msgs/msg/CameraInfo',
    sensor: 'rearCamera',
    rateHz: 1,
    latched: true,
    priority: 1,
  },
  {
    stream: 'lidar',
    topic: '/lidar/points',
    type: 'sensor_msgs/msg/PointCloud2',
    sensor: 'lidar',
    rateHz: 10,
    latched: false,
    priority: 5,
  },
  {
    stream: 'imu',
    topic: '/imu/data',
    type: 'sensor_msgs/msg/Imu',
    sensor: 'imu',
    rateHz: 200,
    latched: false,
    priority: 2,
  },
  {
    stream: 'gnss',
    topic: '/gnss/fix',
    type: 'sensor_msgs/msg/NavSatFix',
    sensor: 'gnss',
    rateHz: 10,
    latched: false,
    priority: 2,
  },
  {
    stream: 'tf',
    topic: '/tf',
    type: 'tf2_msgs/msg/TFMessage',
    sensor: 'tf',
    rateHz: 50,
    latched: false,
    priority: 2,
  },
  // tf_static is sent once at start and then re-sent every 10 s, as a latched topic.
  {
    stream: 'tf_static',
    topic: '/tf_static',
    type: 'tf2_msgs/msg/TFMessage',
    sensor: 'tf',
    rateHz: 0.1,
    latched: true,
    priority: 0,
  },
];

/** A stream entry as written in a rigcap config (field names of agent/config/types.ts). */
export interface SimStreamConfigEntry {
  name: string;
  driver: 'zmq';
  endpoint: string;
  socket: 'sub' | 'pull';
  bind: boolean;
  topic: string;
  type: string;
  encoding: 'cdr';
  latched: boolean;
  priority: number;
  maxMessageBytes: number;
  headerTime: boolean;
  deid: { exempt: boolean; onBackpressure: 'drop' };
  queue: { size: number; maxBytes: number; dropPolicy: 'drop-oldest' };
}

/** The config streams that receive this rig's traffic (the rig binds; the agent connects). */
export function simRigStreams(options: {
  endpoint: string;
  socket?: 'sub' | 'pull';
  sensors?: Partial<Record<SimSensor, boolean>>;
}): SimStreamConfigEntry[] {
  return simTopics
    .filter((t) => options.sensors?.[t.sensor] !== false)
    .map((t) => ({
      name: t.stream,
      driver: 'zmq',
      endpoint: options.endpoint,
      socket: options.socket ?? 'sub',
      bind: false,
      topic: t.topic,
      type: t.type,
      encoding: 'cdr',
      latched: t.latched,
      priority: t.priority,
      maxMessageBytes: t.sensor === 'lidar' ? 16 * 1024 * 1024 : 8 * 1024 * 1024,
      headerTime: false,
      deid: { exempt: false, onBackpressure: 'drop' },
      queue: { size: t.rateHz >= 100 ? 1024 : 256, maxBytes: 64 * 1024 * 1024, dropPolicy: 'drop-oldest' },
    }));
}
