// A fake of the rclnodejs surface the ROS 2 driver uses (drivers/ros2/rclnodejs-api.ts), mocked at
// rclnodejs's own API: a graph of topics with publishers and their offered QoS, raw subscriptions
// fed with CDR Buffers, and message-lost events (present only when `distro` is Jazzy or later).

import type {
  RclMessageLostStatus,
  RclNode,
  RclQos,
  RclQosProfile,
  RclRawSubscriptionOptions,
  RclSubscription,
  RclSubscriptionEventCallbacks,
  RclTopicEndpointInfo,
  RclTopicNamesAndTypes,
  RclnodejsModule,
} from '../../../drivers/ros2/rclnodejs-api.ts';

/** A QoS instance as the fake constructs it (fields named like rclnodejs's QoS). */
export class FakeQos implements RclQos {
  readonly history: number;
  readonly depth: number;
  readonly reliabilityValue: number;
  readonly durability: number;

  constructor(history: number, depth: number, reliability: number, durability: number) {
    this.history = history;
    this.depth = depth;
    this.reliabilityValue = reliability;
    this.durability = durability;
  }
}

/** A subscription the driver created, with what it asked for. */
export interface FakeSubscription extends RclSubscription {
  readonly typeName: string;
  readonly qos: FakeQos;
  readonly isRaw: boolean;
  readonly callback: (message: Buffer) => void;
  readonly events: RclSubscriptionEventCallbacks | undefined;
  destroyed: boolean;
}

/** The Jazzy-and-later event callbacks holder. */
class FakeSubscriptionEventCallbacks implements RclSubscriptionEventCallbacks {
  messageLost: ((status: RclMessageLostStatus) => void) | null | undefined = null;
}

/** rmw QoS profile as publishers offer it (defaults: reliable, volatile, infinite durations as Jazzy reports). */
export function offeredProfile(overrides: Partial<RclQosProfile> = {}): RclQosProfile {
  const infinite = { seconds: 9223372036n, nanoseconds: 854775807 };
  return {
    history: 3,
    depth: 0,
    reliability: 1,
    durability: 2,
    deadline: infinite,
    lifespan: infinite,
    liveliness: 1,
    liveliness_lease_duration: infinite,
    avoid_ros_namespace_conventions: false,
    ...overrides,
  };
}

/** Options for {@link FakeRclnodejs}. */
export interface FakeRclnodejsOptions {
  /** 'humble' has no SubscriptionEventCallbacks; later distros do. */
  distro: 'humble' | 'jazzy';
  /** Types rclnodejs cannot load (createSubscription throws, as with a missing typesupport). */
  unloadableTypes?: readonly string[];
}

/** The fake module plus controls for the test. */
export class FakeRclnodejs {
  readonly module: RclnodejsModule;
  readonly subscriptions: FakeSubscription[] = [];
  readonly publishers = new Map<string, RclTopicEndpointInfo[]>();
  initCalls = 0;
  shutdownCalls = 0;
  nodeNames: string[] = [];
  spinning = false;

  constructor(options: FakeRclnodejsOptions) {
    const unloadable = new Set(options.unloadableTypes ?? []);
    const node: RclNode = {
      createSubscription: (
        typeName: string,
        topic: string,
        subOptions: RclRawSubscriptionOptions,
        callback,
        events,
      ) => {
        if (unloadable.has(typeName)) throw new Error(`The message requested does not exist: ${typeName}`);
        const subscription: FakeSubscription = {
          topic: topic.startsWith('/') ? topic : `/${topic}`,
          typeName,
          qos: subOptions.qos as FakeQos,
          isRaw: subOptions.isRaw,
          callback,
          events,
          destroyed: false,
        };
        this.subscriptions.push(subscription);
        return subscription;
      },
      destroySubscription: (subscription) => {
        (subscription as FakeSubscription).destroyed = true;
      },
      getTopicNamesAndTypes: (): RclTopicNamesAndTypes[] =>
        [...this.publishers]
          .filter(([, infos]) => infos.length > 0)
          .map(([name, infos]) => ({ name, types: [...new Set(infos.map((i) => i.topic_type))] })),
      getPublishersInfoByTopic: (topic: string) => this.publishers.get(topic) ?? [],
      spin: () => {
        this.spinning = true;
      },
      destroy: () => {
        this.spinning = false;
      },
    };
    const module: RclnodejsModule = {
      init: async () => {
        this.initCalls += 1;
      },
      shutdown: () => {
        this.shutdownCalls += 1;
      },
      createNode: (nodeName: string) => {
        this.nodeNames.push(nodeName);
        return node;
      },
      QoS: FakeQos,
    };
    if (options.distro !== 'humble') module.SubscriptionEventCallbacks = FakeSubscriptionEventCallbacks;
    this.module = module;
  }

  /** Announces a publisher of `type` on `topic` offering `qos`. */
  addPublisher(
    topic: string,
    type: string,
    qos: RclQosProfile = offeredProfile(),
    nodeName = 'talker',
  ): void {
    const infos = this.publishers.get(topic) ?? [];
    infos.push({ node_name: nodeName, node_namespace: '/', topic_type: type, qos_profile: qos });
    this.publishers.set(topic, infos);
  }

  /** Removes every publisher of `topic`. */
  removePublishers(topic: string): void {
    this.publishers.delete(topic);
  }

  /** Delivers serialized bytes to every live subscription on `topic`, as rclnodejs does with isRaw. */
  deliver(topic: string, bytes: Uint8Array): void {
    for (const s of this.subscriptions) if (!s.destroyed && s.topic === topic) s.callback(Buffer.from(bytes));
  }

  /** Fires the message-lost event on `topic`'s subscriptions. */
  loseMessages(topic: string, count: number): void {
    for (const s of this.subscriptions) {
      if (!s.destroyed && s.topic === topic)
        s.events?.messageLost?.({ total_count: count, total_count_change: count });
    }
  }

  /** The live subscription on `topic`, if any. */
  subscriptionOn(topic: string): FakeSubscription | undefined {
    return this.subscriptions.find((s) => !s.destroyed && s.topic === topic);
  }
}
