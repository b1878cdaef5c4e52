// Which graph topics become streams, and what a discovered topic's stream is called.

import { createHash } from 'node:crypto';

/** Discovery settings (mirrors the config's `ros2:` section). */
export interface Ros2DiscoverySettings {
  /** Subscribe to topics matching include and not exclude, including ones that appear later. */
  readonly enabled: boolean;
  /** Regexes (JavaScript syntax) matched against the fully qualified topic; empty = all. */
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly discoveryIntervalMs: number;
  readonly nodeName: string;
}

/** `/camera/front` and `camera/front` name the same topic for a node in the root namespace. */
export function qualifiedTopic(topic: string): string {
  return topic.startsWith('/') ? topic : `/${topic}`;
}

/** Decides which discovered topics are recorded. */
export class TopicSelector {
  readonly #enabled: boolean;
  readonly #include: RegExp[];
  readonly #exclude: RegExp[];

  constructor(settings: Pick<Ros2DiscoverySettings, 'enabled' | 'include' | 'exclude'>) {
    this.#enabled = settings.enabled;
    this.#include = settings.include.map((pattern) => new RegExp(pattern));
    this.#exclude = settings.exclude.map((pattern) => new RegExp(pattern));
  }

  /** True when discovery should subscribe to this (fully qualified) topic. */
  selects(topic: string): boolean {
    if (!this.#enabled) return false;
    if (this.#include.length > 0 && !this.#include.some((re) => re.test(topic))) return false;
    return !this.#exclude.some((re) => re.test(topic));
  }
}

const STREAM_NAME_MAX = 64;

/**
 * Stream name for a discovered topic: drop the leading `/`, turn `/` into `.`, any other character
 * outside `[A-Za-z0-9_.-]` into `_` (`/camera/front/image_raw` → `camera.front.image_raw`). Names
 * over 64 characters keep 55 and add `-` and 8 hex digits of the topic's SHA-256; a name already
 * taken gets `-2`, `-3`, … so it never shadows a configured stream.
 */
export function discoveredStreamName(topic: string, taken: ReadonlySet<string>): string {
  let base = qualifiedTopic(topic)
    .slice(1)
    .replaceAll('/', '.')
    .replace(/[^A-Za-z0-9_.-]/g, '_');
  if (base === '') base = '_';
  if (base.length > STREAM_NAME_MAX) {
    base = `${base.slice(0, STREAM_NAME_MAX - 9)}-${createHash('sha256').update(topic).digest('hex').slice(0, 8)}`;
  }
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) {
    const suffix = `-${n}`;
    const candidate = base.slice(0, STREAM_NAME_MAX - suffix.length) + suffix;
    if (!taken.has(candidate)) return candidate;
  }
}
