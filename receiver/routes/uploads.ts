// /v1/uploads: the tus endpoints (receiver/tus-routes.ts), with the store's blobs, limits and auth.
import type { ReceiverAppDeps } from '../app.ts';
import { registerTusRoutes, type TusRoutesOptions } from '../tus-routes.ts';
import { routePlugin } from './plugin.ts';

export const uploadRoutes = routePlugin((app, deps) => {
  registerTusRoutes(app, tusOptionsOf(deps));
});

function tusOptionsOf(deps: ReceiverAppDeps): TusRoutesOptions {
  const { datastore, blobs, maxUploadBytes, maxPartBytes, log, locker, auth, quotas } = deps;
  return {
    datastore,
    blobs,
    maxUploadBytes,
    maxPartBytes,
    log,
    ...(locker === undefined ? {} : { locker }),
    ...(auth === undefined ? {} : { auth }),
    ...(quotas === undefined ? {} : { quotas }),
  };
}
