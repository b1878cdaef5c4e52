// The slice of the rclnodejs API this driver uses, typed here so nothing depends on rclnodejs's
// own typings (it is an optional peer dependency) and tests can pass a fake of exactly this shape.

/** rmw_time_t as rclnodejs returns it inside QoS profiles. */
export interface RclDuration {
  seconds: bigint | number;
  nanoseconds: number;
}

/** rmw_qos_profile_t as returned by `getPublishersInfoByTopic` (rmw enum numbers). */
export interface RclQosProfile {
  history: number;
  depth: number;
  reliability: number;
  durability: number;
  deadline: RclDuration;
  lifespan: RclDuration;
  liveliness: number;
  liveliness_lease_duration: RclDuration;
  avoid_ros_namespace_conventions: boolean;
}

/** One publisher endpoint of a topic. */
export interface RclTopicEndpointInfo {
  node_name: string;
  node_namespace: string;
  topic_type: string;
  qos_profile: RclQosProfile;
}

/** One entry of `getTopicNamesAndTypes`. */
export interface RclTopicNamesAndTypes {
  name: string;
  types: string[];
}

/** rmw_message_lost_status_t, delivered to the message-lost event callback. */
export interface RclMessageLostStatus {
  total_count: number;
  total_count_change: number;
}

/** rclnodejs `SubscriptionEventCallbacks` (Jazzy and later); only `messageLost` is used. */
export interface RclSubscriptionEventCallbacks {
  messageLost: ((status: RclMessageLostStatus) => void) | null | undefined;
}

/** An opaque rclnodejs QoS instance. */
export interface RclQos {
  depth: number;
}

/** Options for a raw subscription. */
export interface RclRawSubscriptionOptions {
  isRaw: true;
  qos: RclQos;
}

/** An rclnodejs subscription handle. */
export interface RclSubscription {
  readonly topic: string;
}

/** The node methods the driver calls. */
export interface RclNode {
  createSubscription(
    typeName: string,
    topic: string,
    options: RclRawSubscriptionOptions,
    callback: (message: Buffer) => void,
    eventCallbacks?: RclSubscriptionEventCallbacks,
  ): RclSubscription;
  destroySubscription(subscription: RclSubscription): void;
  getTopicNamesAndTypes(): RclTopicNamesAndTypes[];
  getPublishersInfoByTopic(topic: string, noDemangle: boolean): RclTopicEndpointInfo[];
  spin(timeoutMs?: number): void;
  destroy(): void;
}

/** The module surface: `await import('rclnodejs')`, unwrapped from its CommonJS default. */
export interface RclnodejsModule {
  init(): Promise<void>;
  shutdown(): void;
  createNode(nodeName: string, namespace?: string): RclNode;
  QoS: new (history: number, depth: number, reliability: number, durability: number) => RclQos;
  /** Removes the SIGINT listener rclnodejs adds at import (absent in old releases). */
  removeSignalHandlers?(): void;
  /** Absent before rclnodejs 1.x; its constructor throws before Jazzy. */
  SubscriptionEventCallbacks?: new () => RclSubscriptionEventCallbacks;
}

/** rmw enum values (identical on Humble, Jazzy and later). */
export const RMW_HISTORY_KEEP_LAST = 1;
export const RMW_RELIABILITY_RELIABLE = 1;
export const RMW_RELIABILITY_BEST_EFFORT = 2;
export const RMW_DURABILITY_TRANSIENT_LOCAL = 1;
export const RMW_DURABILITY_VOLATILE = 2;
