// rclnodejs keeps one default context per process: init it once, shut it down after the last user.

import { initFailure } from './rclnodejs-loader.ts';
import type { RclnodejsModule } from './rclnodejs-api.ts';

const contextUsers = new WeakMap<RclnodejsModule, { users: number; ready: Promise<void> }>();

/** Initialises the rclnodejs context for one more user (once per module). */
export async function acquireContext(rcl: RclnodejsModule): Promise<void> {
  let entry = contextUsers.get(rcl);
  if (entry === undefined) {
    entry = { users: 0, ready: rcl.init() };
    contextUsers.set(rcl, entry);
  }
  entry.users += 1;
  try {
    await entry.ready;
  } catch (err) {
    contextUsers.delete(rcl);
    throw initFailure(err);
  }
}

/** Drops one user; the last one shuts the context down. */
export function releaseContext(rcl: RclnodejsModule): void {
  const entry = contextUsers.get(rcl);
  if (entry === undefined) return;
  entry.users -= 1;
  if (entry.users > 0) return;
  contextUsers.delete(rcl);
  rcl.shutdown();
}
