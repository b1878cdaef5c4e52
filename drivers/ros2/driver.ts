// The ROS 2 driver: raw (CDR) subscriptions through rclnodejs, topics from config and/or graph
// discovery, QoS adapted to the publishers, rosbag2-compatible schemas and channel metadata.

import type { Driver, DriverDrop, DriverStats, Sample, StreamSchema } from '../types.ts';
import type { Ros2DriverStream } from '../stream-config.ts';
import { Ros2DriverError } from './errors.ts';
import { Ros2SchemaResolver } from './message-definitions.ts';
import { chooseSubscriptionQos, offeredQosProfilesYaml, rmwDurability, rmwReliability } from './qos.ts';
import {
  RMW_HISTORY_KEEP_LAST,
  type RclMessageLostStatus,
  type RclNode,
  type RclQosProfile,
  type RclSubscriptionEventCallbacks,
  type RclnodejsModule,
} from './rclnodejs-api.ts';
import {
  loadInstalledRclnodejs,
  readRos2Environment,
  type EnvironmentVariables,
} from './rclnodejs-loader.ts';
import { SampleFifo } from './sample-fifo.ts';
import { DriverStatsCounter } from '../stats.ts';
import { acquireContext, releaseContext } from './rclnodejs-context.ts';
import { systemClock, type Ros2DriverClock } from './clock.ts';
import { TopicSelector, type Ros2DiscoverySettings } from './topic-selection.ts';
import { configuredTap, discoveredTap, qosIsExplicit, tapSample, type TopicTap } from './topic-tap.ts';

/** A non-fatal problem the agent should log (a topic that cannot be tapped, a type without schema). */
export interface Ros2DriverWarning {
  stream: string;
  topic: string;
  message: string;
}

/** Everything the driver needs; only `streams` and `discovery` come from config. */
export interface Ros2DriverOptions {
  streams: readonly Ros2DriverStream[];
  discovery: Ros2DiscoverySettings;
  /** Defaults to process.env (must hold a sourced ROS 2 environment). */
  env?: EnvironmentVariables;
  /** Defaults to importing the installed rclnodejs; tests pass a fake. */
  loadRclnodejs?: (env: EnvironmentVariables) => Promise<RclnodejsModule>;
  clock?: Ros2DriverClock;
  /** Hand-off buffer limits before `queue_full` drops (defaults: 4096 samples, 256 MiB). */
  maxPendingSamples?: number;
  maxPendingBytes?: number;
  onWarning?: (warning: Ros2DriverWarning) => void;
}

/** What the driver knows about one tapped topic. */
export interface Ros2StreamInfo {
  stream: string;
  topic: string;
  type: string;
  /** True for configured latched streams and discovered topics whose publishers are all transient_local. */
  latched: boolean;
  discovered: boolean;
  subscribed: boolean;
}

/** Taps ROS 2 topics as raw CDR samples. */
export class Ros2Driver implements Driver {
  readonly name = 'ros2';
  readonly #options: Ros2DriverOptions;
  readonly #clock: Ros2DriverClock;
  readonly #selector: TopicSelector;
  readonly #fifo: SampleFifo;
  readonly #taps = new Map<string, TopicTap>(); // by qualified topic
  readonly #schemas = new Map<string, StreamSchema>();
  readonly #counters = new DriverStatsCounter();
  #rcl: RclnodejsModule | undefined;
  #node: RclNode | undefined;
  #resolver: Ros2SchemaResolver | undefined;
  #timer: NodeJS.Timeout | undefined;
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';

  constructor(options: Ros2DriverOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#selector = new TopicSelector(options.discovery);
    this.#fifo = new SampleFifo({
      maxSamples: options.maxPendingSamples ?? 4096,
      maxBytes: options.maxPendingBytes ?? 256 * 1024 * 1024,
    });
    for (const stream of options.streams) {
      const tap = configuredTap(stream);
      this.#taps.set(tap.qualified, tap);
      this.#counters.addStream(stream.name);
    }
  }

  /** Checks the ROS 2 environment, loads rclnodejs, starts a node and subscribes. */
  async open(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'new') throw new Error(`ros2 driver cannot open from state ${this.#state}`);
    signal.throwIfAborted();
    this.#state = 'opening';
    const env = this.#options.env ?? process.env;
    const environment = readRos2Environment(env);
    const load =
      this.#options.loadRclnodejs ?? ((e: EnvironmentVariables) => loadInstalledRclnodejs({ env: e }));
    const rcl = await load(env);
    signal.throwIfAborted();
    await acquireContext(rcl);
    this.#rcl = rcl;
    if (this.#isClosed()) {
      // destroy() ran while the context was starting.
      releaseContext(rcl);
      return;
    }
    try {
      this.#node = rcl.createNode(this.#options.discovery.nodeName);
      this.#node.spin();
    } catch (err) {
      this.destroy();
      throw new Ros2DriverError(
        'RIGCAP_ROS2_INIT_FAILED',
        `could not start ROS 2 node ${this.#options.discovery.nodeName}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    this.#resolver = new Ros2SchemaResolver({
      amentPrefixes: environment.amentPrefixes,
      distro: environment.distro,
    });
    this.#state = 'open';
    signal.addEventListener('abort', () => this.destroy(), { once: true });
    this.pollGraph();
    this.#timer = setInterval(() => this.pollGraph(), this.#options.discovery.discoveryIntervalMs);
    this.#timer.unref();
  }

  /** Samples in arrival order until close (or destroy). */
  samples(): AsyncIterable<Sample> {
    return this.#fifo.drain();
  }

  /** Schemas by stream name, for the streams subscribed so far. */
  schemas(): ReadonlyMap<string, StreamSchema> {
    return this.#schemas;
  }

  /** Every configured or discovered stream and whether it is subscribed. */
  streams(): Ros2StreamInfo[] {
    return [...this.#taps.values()].map((tap) => ({
      stream: tap.stream,
      topic: tap.topic,
      type: tap.type,
      latched: tap.latched,
      discovered: tap.discovered,
      subscribed: tap.subscription !== undefined,
    }));
  }

  onDrop(listener: (drop: DriverDrop) => void): void {
    this.#counters.addListener(listener);
  }

  stats(): DriverStats {
    return this.#counters.snapshot();
  }

  /** Stops taking messages; samples already received are still yielded. */
  async close(): Promise<void> {
    this.#shutdown({ discard: false });
  }

  /** Stops at once and discards what has not been yielded. */
  destroy(_err?: Error): void {
    this.#shutdown({ discard: true });
  }

  /**
   * One discovery pass: subscribe configured topics once publishers appear, subscribe newly
   * selected topics, refuse type changes. Runs every discoveryIntervalMs; public so tests can step it.
   */
  pollGraph(): void {
    const node = this.#node;
    if (node === undefined || this.#state !== 'open') return;
    const graph = new Map<string, string[]>();
    for (const entry of node.getTopicNamesAndTypes()) graph.set(entry.name, entry.types);
    for (const tap of this.#taps.values()) {
      const types = graph.get(tap.qualified);
      if (types !== undefined && !types.includes(tap.type)) {
        this.#refuseType(tap, types);
        continue;
      }
      tap.refusedTypes = undefined;
      if (tap.subscription === undefined && !tap.failed && (types !== undefined || qosIsExplicit(tap.qos)))
        this.#subscribe(tap);
      else if (tap.subscription !== undefined && types !== undefined) this.#readaptQos(tap);
    }
    for (const [topic, types] of graph) {
      if (this.#taps.has(topic) || !this.#selector.selects(topic)) continue;
      const [type] = types;
      if (types.length !== 1 || type === undefined) {
        // Several types on one topic: no single schema fits, so nothing is recorded.
        this.#counters.drop('', 'type_mismatch', 1, `${topic} carries several types: ${types.join(', ')}`);
        continue;
      }
      const taken = new Set([...this.#taps.values()].map((t) => t.stream));
      const tap = discoveredTap(topic, type, taken);
      this.#taps.set(topic, tap);
      this.#counters.addStream(tap.stream);
      this.#subscribe(tap);
    }
  }

  #refuseType(tap: TopicTap, types: readonly string[]): void {
    const key = types.join(',');
    if (tap.refusedTypes === key) return;
    tap.refusedTypes = key;
    this.#counters.drop(
      tap.stream,
      'type_mismatch',
      1,
      `${tap.qualified} is now ${key}, recorded as ${tap.type}; refused`,
    );
  }

  #offeredProfiles(node: RclNode, tap: TopicTap): RclQosProfile[] {
    return node
      .getPublishersInfoByTopic(tap.qualified, false)
      .filter((p) => p.topic_type === tap.type)
      .map((p) => p.qos_profile);
  }

  /**
   * A publisher that joins later may offer less (best_effort, volatile) than the subscription
   * asks for and would never match; resubscribe with what every publisher now offers.
   */
  #readaptQos(tap: TopicTap): void {
    const node = this.#node;
    if (node === undefined || tap.subscribedQos === undefined) return;
    const offered = this.#offeredProfiles(node, tap);
    if (offered.length === 0) return;
    const qos = chooseSubscriptionQos(offered, tap.qos);
    if (qos.reliability === tap.subscribedQos.reliability && qos.durability === tap.subscribedQos.durability)
      return;
    if (tap.subscription !== undefined) node.destroySubscription(tap.subscription);
    tap.subscription = undefined;
    this.#subscribe(tap);
  }

  #subscribe(tap: TopicTap): void {
    const node = this.#node;
    const rcl = this.#rcl;
    if (node === undefined || rcl === undefined) return;
    const offered = this.#offeredProfiles(node, tap);
    const qos = chooseSubscriptionQos(offered, tap.qos);
    tap.subscribedQos = qos;
    if (tap.discovered) tap.latched = qos.durability === 'transient_local';
    try {
      const rclQos = new rcl.QoS(RMW_HISTORY_KEEP_LAST, qos.depth, rmwReliability(qos), rmwDurability(qos));
      tap.subscription = node.createSubscription(
        tap.type,
        tap.topic,
        { isRaw: true, qos: rclQos },
        (message) => this.#onMessage(tap, message),
        this.#messageLostCallbacks(rcl, tap),
      );
    } catch (err) {
      tap.failed = true;
      this.#warn(tap, `cannot subscribe as ${tap.type}: ${(err as Error).message}`);
      return;
    }
    const resolved = this.#resolver?.resolve(tap.type);
    if (resolved === undefined)
      this.#warn(tap, `no message definition for ${tap.type}; the channel has no schema text`);
    const schema = resolved?.schema ?? {
      name: tap.type,
      encoding: '',
      data: new Uint8Array(0),
      messageEncoding: 'cdr',
    };
    this.#schemas.set(tap.stream, {
      ...schema,
      channelMetadata: { offered_qos_profiles: offeredQosProfilesYaml(offered) },
    });
  }

  #messageLostCallbacks(rcl: RclnodejsModule, tap: TopicTap): RclSubscriptionEventCallbacks | undefined {
    const Callbacks = rcl.SubscriptionEventCallbacks;
    if (Callbacks === undefined) return undefined;
    try {
      const callbacks = new Callbacks();
      callbacks.messageLost = (status: RclMessageLostStatus) =>
        this.#counters.drop(tap.stream, 'middleware_lost', status.total_count_change);
      return callbacks;
    } catch (err) {
      // Before Jazzy rclnodejs has no subscription events; loss then shows only as seq gaps upstream.
      this.#warn(
        tap,
        `no subscription events, so lost messages show only as sequence gaps: ${(err as Error).message}`,
      );
      return undefined;
    }
  }

  #onMessage(tap: TopicTap, message: Buffer): void {
    if (this.#state !== 'open') return;
    const made = tapSample(tap, message, this.#clock);
    if (!('sample' in made)) {
      this.#counters.drop(tap.stream, made.cause, 1, made.reason);
      return;
    }
    if (!this.#fifo.push(made.sample)) {
      this.#counters.drop(tap.stream, 'queue_full', 1);
      return;
    }
    tap.seq += 1;
    this.#counters.received(tap.stream, message.byteLength);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #warn(tap: TopicTap, message: string): void {
    this.#options.onWarning?.({ stream: tap.stream, topic: tap.topic, message });
  }

  #shutdown(options: { discard: boolean }): void {
    if (this.#state === 'closed') {
      if (options.discard) this.#fifo.close(options);
      return;
    }
    this.#state = 'closed';
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const node = this.#node;
    this.#node = undefined;
    if (node !== undefined) {
      for (const tap of this.#taps.values()) {
        if (tap.subscription !== undefined) node.destroySubscription(tap.subscription);
        tap.subscription = undefined;
      }
      node.destroy();
    }
    if (this.#rcl !== undefined) releaseContext(this.#rcl);
    this.#rcl = undefined;
    this.#fifo.close(options);
  }
}
