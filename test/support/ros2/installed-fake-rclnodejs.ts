// The fake rclnodejs as an installed package sees it: a child `rigcap run` imports this through the
// package written by writeFakeRclnodejsPackage(). Importing it has the real package's side effect
// (a SIGINT listener that shuts the context down), and every call is appended to an events file
// so the test can tell what happened inside the child, and in which order.
import { appendFileSync, readFileSync } from 'node:fs';
import type { RclnodejsModule } from '../../../drivers/ros2/rclnodejs-api.ts';
import { FakeRclnodejs, offeredProfile } from './fake-rclnodejs.ts';

/** What the package's fake.json holds. */
export interface InstalledFakeConfig {
  eventsFile: string;
  generatedDir: string;
  generatedReadOnly?: 'EROFS' | 'EACCES';
  /** Publishers in the graph: topic and type. */
  publishers: Array<{ topic: string; type: string }>;
  /** init() resolves only after this long (a slow middleware start); the wait holds no handle. */
  initStallMs?: number;
  /** shutdown() blocks the thread this long (a DDS participant teardown that takes seconds). */
  shutdownStallMs?: number;
}

/** Builds the fake from the package's config file, as the package's import would. */
export function installFake(configUrl: URL): RclnodejsModule {
  const config = JSON.parse(readFileSync(configUrl, 'utf8')) as InstalledFakeConfig;
  const event = (name: string): void => appendFileSync(config.eventsFile, `${name}\n`);
  const fake = new FakeRclnodejs({
    distro: 'jazzy',
    generatedDir: config.generatedDir,
    ...(config.generatedReadOnly === undefined ? {} : { generatedReadOnly: config.generatedReadOnly }),
  });
  for (const p of config.publishers) fake.addPublisher(p.topic, p.type, offeredProfile());
  const rcl = fake.importModule().default;
  event('import');
  // A probe added at init, after the import (so the loader's clean-up leaves it): on SIGINT it
  // records whether rclnodejs's own listener was still registered to shut the context down.
  const probe = (): void =>
    event(
      fake.signalListenerInstalled
        ? 'sigint:rclnodejs-listener-present'
        : 'sigint:rclnodejs-listener-removed',
    );
  const init = rcl.init.bind(rcl);
  const shutdown = rcl.shutdown.bind(rcl);
  const createNode = rcl.createNode.bind(rcl);
  return {
    ...rcl,
    init: async () => {
      event('init');
      process.on('SIGINT', probe);
      try {
        if (config.initStallMs !== undefined) {
          const stall = config.initStallMs;
          await new Promise((resolve) => setTimeout(resolve, stall).unref());
        }
        await init();
      } catch (err) {
        event(`init-failed:${(err as { code?: string }).code ?? 'unknown'}`);
        throw err;
      }
    },
    shutdown: () => {
      event(fake.signalShutdowns > 0 ? 'shutdown:by-rclnodejs-listener' : 'shutdown');
      if (config.shutdownStallMs !== undefined) {
        const until = Date.now() + config.shutdownStallMs;
        while (Date.now() < until) {
          // Native teardown blocks the event loop; so does this.
        }
      }
      shutdown();
    },
    createNode: (name: string, namespace?: string) => {
      event(`createNode:${name}`);
      const node = createNode(name, namespace);
      return {
        ...node,
        destroy: () => {
          event('node-destroy');
          node.destroy();
        },
      };
    },
  };
}
