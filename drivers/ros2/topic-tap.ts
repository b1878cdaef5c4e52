// One tapped ROS 2 topic: what the driver tracks about it (stream name, type, QoS asked and granted,
// subscription, seq) and how one raw message from it becomes a Sample.
import type { Sample } from '../types.ts';
import type { Ros2DriverStream } from '../stream-config.ts';
import { cdrByteOrder, readLeadingStampNs } from './cdr-header-stamp.ts';
import type { Ros2DriverClock } from './clock.ts';
import { AUTO_QOS, type Ros2QosRequest, type Ros2SubscriptionQos } from './qos.ts';
import type { RclSubscription } from './rclnodejs-api.ts';
import { discoveredStreamName, qualifiedTopic } from './topic-selection.ts';

/** A configured or discovered topic and its subscription state. */
export interface TopicTap {
  stream: string;
  topic: string;
  qualified: string;
  type: string;
  headerTime: boolean;
  qos: Ros2QosRequest;
  latched: boolean;
  discovered: boolean;
  subscription: RclSubscription | undefined;
  /** Set when rclnodejs refused the subscription; not retried. */
  failed: boolean;
  /** Graph types last refused for this topic, so one type change counts once. */
  refusedTypes: string | undefined;
  subscribedQos?: Ros2SubscriptionQos;
  seq: number;
}

/** The tap for a stream named in config. */
export function configuredTap(stream: Ros2DriverStream): TopicTap {
  return {
    stream: stream.name,
    topic: stream.topic,
    qualified: qualifiedTopic(stream.topic),
    type: stream.type,
    headerTime: stream.headerTime === true,
    qos: stream.qos ?? AUTO_QOS,
    latched: stream.latched,
    discovered: false,
    subscription: undefined,
    failed: false,
    refusedTypes: undefined,
    seq: 0,
  };
}

/** The tap for a topic found by graph discovery; its stream name avoids the names `taken`. */
export function discoveredTap(topic: string, type: string, taken: ReadonlySet<string>): TopicTap {
  return {
    stream: discoveredStreamName(topic, taken),
    topic,
    qualified: topic,
    type,
    headerTime: false,
    qos: AUTO_QOS,
    latched: false,
    discovered: true,
    subscription: undefined,
    failed: false,
    refusedTypes: undefined,
    seq: 0,
  };
}

/** True when config fixes both reliability and durability: subscribe without waiting for a publisher. */
export function qosIsExplicit(qos: Ros2QosRequest): boolean {
  return qos.reliability !== 'auto' && qos.durability !== 'auto';
}

/**
 * A raw CDR message as the tap's next Sample (seq not yet taken), or why it cannot be one. Capture
 * time is the header stamp for `headerTime` streams, the wall clock at arrival otherwise.
 */
export function tapSample(
  tap: TopicTap,
  message: Buffer,
  clock: Ros2DriverClock,
): { sample: Sample } | { cause: 'decode_error'; reason: string } {
  const monoNs = clock.monoNs();
  if (cdrByteOrder(message) === undefined)
    return { cause: 'decode_error', reason: 'payload has no CDR encapsulation header' };
  let captureNs: bigint;
  if (tap.headerTime) {
    const stampNs = readLeadingStampNs(message);
    if (stampNs === undefined) return { cause: 'decode_error', reason: 'header stamp unreadable' };
    captureNs = stampNs;
  } else {
    captureNs = clock.wallNs();
  }
  return {
    sample: {
      stream: tap.stream,
      topic: tap.topic,
      seq: tap.seq + 1,
      captureNs,
      monoNs,
      encoding: 'cdr',
      schemaRef: tap.type,
      data: message,
    },
  };
}
