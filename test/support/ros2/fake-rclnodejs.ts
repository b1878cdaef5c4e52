// A fake of the rclnodejs surface the ROS 2 driver uses (drivers/ros2/rclnodejs-api.ts), mocked at
// rclnodejs's own API: a graph of topics with publishers and their offered QoS, raw subscriptions
// fed with CDR Buffers, and message-lost events (present only when `distro` is Jazzy or later).
// Two side effects of the real package are modelled too: init() writes generated message code into
// the package's `generated` folder (failing with EROFS/EACCES where it is read-only), and importing
// the package adds a process SIGINT listener that shuts its context down (importModule()).

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /**
   * The package's `generated` folder. Like rclnodejs, init() writes message code there unless a
   * `generator.json` is already present; without this option init() writes nothing.
   */
  generatedDir?: string;
  /**
   * The folder is on a read-only filesystem (EROFS, as under ProtectSystem=strict) or not writable
   * by this user (EACCES): init() fails with that fs error instead of writing (root ignores modes).
   */
  generatedReadOnly?: 'EROFS' | 'EACCES';
  /** Older releases have no `removeSignalHandlers()`; their listener can only be removed by hand. */
  withoutRemoveSignalHandlers?: boolean;
}

/** The version rclnodejs writes into generated/generator.json. */
export const fakeGeneratorVersion = '1.5.1';

/** The fake module plus controls for the test. */
export class FakeRclnodejs {
  readonly module: RclnodejsModule;
  readonly subscriptions: FakeSubscription[] = [];
  readonly publishers = new Map<string, RclTopicEndpointInfo[]>();
  initCalls = 0;
  shutdownCalls = 0;
  /** Times the listener rclnodejs adds at import ran (it shuts the context down by itself). */
  signalShutdowns = 0;
  /** Files init() wrote under `generatedDir`. */
  generatedWrites: string[] = [];
  nodeNames: string[] = [];
  nodesDestroyed = 0;
  spinning = false;
  /** The SIGINT listener added by {@link importModule}, while it is registered. */
  #sigint: (() => void) | undefined;
  readonly #options: FakeRclnodejsOptions;

  constructor(options: FakeRclnodejsOptions) {
    this.#options = options;
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
        this.nodesDestroyed += 1;
      },
    };
    const module: RclnodejsModule = {
      init: async () => {
        this.initCalls += 1;
        this.#generate();
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
    if (options.withoutRemoveSignalHandlers !== true)
      module.removeSignalHandlers = () => {
        if (this.#sigint !== undefined) process.removeListener('SIGINT', this.#sigint);
        this.#sigint = undefined;
      };
    if (options.distro !== 'humble') module.SubscriptionEventCallbacks = FakeSubscriptionEventCallbacks;
    this.module = module;
  }

  /**
   * What `import('rclnodejs')` does: evaluating the module adds a process SIGINT listener that
   * shuts every context down (destroying its nodes) the moment a SIGINT arrives. Returns the
   * module as ESM sees a CommonJS package: `{ default: module.exports }`.
   */
  importModule(): { default: RclnodejsModule } {
    if (this.#sigint === undefined) {
      this.#sigint = () => {
        this.signalShutdowns += 1;
        this.spinning = false;
        this.module.shutdown();
      };
      process.on('SIGINT', this.#sigint);
    }
    return { default: this.module };
  }

  /** True while the import-time SIGINT listener is registered on the process. */
  get signalListenerInstalled(): boolean {
    return this.#sigint !== undefined && process.listeners('SIGINT').includes(this.#sigint);
  }

  /** Removes the import-time listener if the code under test left it (test cleanup). */
  removeImportListener(): void {
    if (this.#sigint !== undefined) process.removeListener('SIGINT', this.#sigint);
    this.#sigint = undefined;
  }

  /** init()'s code generation: skipped when generator.json is there, else written (or refused). */
  #generate(): void {
    const dir = this.#options.generatedDir;
    if (dir === undefined || existsSync(join(dir, 'generator.json'))) return;
    const refused = this.#options.generatedReadOnly;
    if (refused !== undefined) {
      // Shaped like the fs error rclnodejs's generator lets through.
      const reason = refused === 'EROFS' ? 'read-only file system' : 'permission denied';
      throw Object.assign(new Error(`${refused}: ${reason}, mkdir '${join(dir, 'std_msgs')}'`), {
        code: refused,
        errno: refused === 'EROFS' ? -30 : -13,
        syscall: 'mkdir',
        path: join(dir, 'std_msgs'),
      });
    }
    mkdirSync(join(dir, 'std_msgs'), { recursive: true });
    const message = join(dir, 'std_msgs', 'std_msgs__msg__String.js');
    writeFileSync(message, "'use strict';\nmodule.exports = class String {};\n");
    const stamp = join(dir, 'generator.json');
    writeFileSync(stamp, `${JSON.stringify({ version: fakeGeneratorVersion })}\n`);
    this.generatedWrites.push(message, stamp);
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
