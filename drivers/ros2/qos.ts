// QoS adaptation: subscribe so that every current publisher matches, and record what publishers
// offered in the same YAML rosbag2 writes, so `ros2 bag play` republishes with the same QoS.

import {
  RMW_DURABILITY_TRANSIENT_LOCAL,
  RMW_DURABILITY_VOLATILE,
  RMW_RELIABILITY_BEST_EFFORT,
  RMW_RELIABILITY_RELIABLE,
  type RclDuration,
  type RclQosProfile,
} from './rclnodejs-api.ts';

/** QoS requested per topic in config; `auto` adapts to the publishers. */
export interface Ros2QosRequest {
  reliability: 'auto' | 'reliable' | 'best_effort';
  durability: 'auto' | 'volatile' | 'transient_local';
  depth: number;
}

/** The QoS a subscription is created with. */
export interface Ros2SubscriptionQos {
  reliability: 'reliable' | 'best_effort';
  durability: 'volatile' | 'transient_local';
  depth: number;
}

/** Default for discovered topics: adapt both policies, a queue of 10 like rosbag2. */
export const AUTO_QOS: Ros2QosRequest = { reliability: 'auto', durability: 'auto', depth: 10 };

/**
 * Chooses a subscription QoS that matches every offered profile: reliable only if all publishers
 * offer reliable, transient_local only if all offer it (a volatile publisher would not match it).
 */
export function chooseSubscriptionQos(
  offered: readonly RclQosProfile[],
  request: Ros2QosRequest,
): Ros2SubscriptionQos {
  const allReliable = offered.length > 0 && offered.every((p) => p.reliability === RMW_RELIABILITY_RELIABLE);
  const allTransientLocal =
    offered.length > 0 && offered.every((p) => p.durability === RMW_DURABILITY_TRANSIENT_LOCAL);
  return {
    reliability:
      request.reliability === 'auto' ? (allReliable ? 'reliable' : 'best_effort') : request.reliability,
    durability:
      request.durability === 'auto'
        ? allTransientLocal
          ? 'transient_local'
          : 'volatile'
        : request.durability,
    depth: request.depth,
  };
}

/** rmw enum numbers for a chosen QoS, in rclnodejs `new QoS(history, depth, reliability, durability)` order. */
export function rmwReliability(qos: Ros2SubscriptionQos): number {
  return qos.reliability === 'reliable' ? RMW_RELIABILITY_RELIABLE : RMW_RELIABILITY_BEST_EFFORT;
}

/** rmw durability number for a chosen QoS. */
export function rmwDurability(qos: Ros2SubscriptionQos): number {
  return qos.durability === 'transient_local' ? RMW_DURABILITY_TRANSIENT_LOCAL : RMW_DURABILITY_VOLATILE;
}

/**
 * The `offered_qos_profiles` channel metadata value in rosbag2's YAML (metadata version 8, the
 * integer form Humble and Jazzy write and every later rosbag2 still reads); '' when none is known.
 */
export function offeredQosProfilesYaml(profiles: readonly RclQosProfile[]): string {
  return profiles
    .map((p) =>
      [
        `- history: ${p.history}`,
        `  depth: ${p.depth}`,
        `  reliability: ${p.reliability}`,
        `  durability: ${p.durability}`,
        ...durationYaml('deadline', p.deadline),
        ...durationYaml('lifespan', p.lifespan),
        `  liveliness: ${p.liveliness}`,
        ...durationYaml('liveliness_lease_duration', p.liveliness_lease_duration),
        `  avoid_ros_namespace_conventions: ${p.avoid_ros_namespace_conventions ? 'true' : 'false'}`,
      ].join('\n'),
    )
    .join('\n');
}

function durationYaml(key: string, duration: RclDuration): string[] {
  return [`  ${key}:`, `    sec: ${String(duration.seconds)}`, `    nsec: ${duration.nanoseconds}`];
}
