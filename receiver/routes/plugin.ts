// One route group of the receiver's HTTP surface is one fastify plugin. The receiver's plugins
// share the root context (no encapsulation), so every route sees the one error handler, the shared
// schemas and any hook added to the app, wherever it is registered.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ReceiverAppDeps } from '../app.ts';

/** A route group: registers its routes on the app it is given, reading what it needs from deps. */
export type RoutePlugin = FastifyPluginAsync<ReceiverAppDeps>;

/** Marks a plugin as sharing its parent's context (what fastify-plugin does with skip-override). */
export function routePlugin(register: (app: FastifyInstance, deps: ReceiverAppDeps) => void): RoutePlugin {
  const plugin: RoutePlugin = async (app, deps) => register(app, deps);
  Object.assign(plugin, { [Symbol.for('skip-override')]: true });
  return plugin;
}
