// Read access on a receiver: the named readers, the access recorder, one StoreReader (over the
// store files, or the state's log for a fleet store) shared by the read API and the dashboard, and
// mounting both behind the same credentials.
import type { FastifyInstance } from 'fastify';
import { RigcapError } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';
import type { BlobStore } from '../blob-store.ts';
import { StoreLayout } from '../layout.ts';
import type { ReceiverState, StateReader } from '../state.ts';
import type { StoreKey } from '../store-key.ts';
import type { StoreReader } from '../ui/store-reader.ts';
import { installAccessHooks, type AccessControl, type RouteAccess } from './hooks.ts';
import { ReaderBook, tokenSha256, type Reader } from './readers.ts';
import { AccessRecorder } from './recorder.ts';

/** Readers, recorder and the store reader of one receiver. */
export interface ReadAccess {
  control: AccessControl;
  reader: StoreReader;
  /** The state the access log is read from. */
  state: StateReader;
  /** Signs what is queued; call after the app stopped answering, before the state closes. */
  close(): Promise<void>;
}

/** Dashboard tokens given without names (`--ui-token-file`) become readers `ui-token-1`, … */
export function unnamedReaders(tokens: readonly string[]): Reader[] {
  return tokens.map((t, i) => ({ name: `ui-token-${i + 1}`, role: 'reader', sha256: tokenSha256(t) }));
}

/**
 * Opens read access: over the store directory's files with `dataDir`, else over the state's log
 * and the blob store (a fleet store: PostgreSQL and S3).
 */
export async function openReadAccess(deps: {
  dataDir: string | undefined;
  readers: readonly Reader[];
  state: ReceiverState;
  blobs: BlobStore;
  key: StoreKey;
  log: Logger;
}): Promise<ReadAccess> {
  const { dataDir, readers, state, key } = deps;
  if (readers.length === 0)
    throw new RigcapError('RIGCAP_CONFIG_INVALID', 'read access needs at least one named reader');
  const log = deps.log.child({ component: 'access' });
  const { storeUiDeps } = await import('../ui/routes.ts');
  const { StateRecordSource } = await import('../ui/record-sources.ts');
  const { reader } = await storeUiDeps(
    dataDir === undefined
      ? { source: new StateRecordSource({ state, blobs: deps.blobs }) }
      : { root: dataDir },
  );
  const recorder = new AccessRecorder({
    state,
    key,
    log,
    ...(dataDir === undefined ? {} : { layout: new StoreLayout(dataDir) }),
  });
  return {
    control: { readers: new ReaderBook(readers), recorder, log },
    reader,
    state,
    close: () => recorder.close(),
  };
}

/** The dashboard's rule: pages need a reader, exports an auditor; the purpose defaults to `dashboard`. */
export function dashboardRule(url: string): RouteAccess {
  if (url.endsWith('/export/:format'))
    return { role: 'auditor', action: 'export', purposeRequired: false, defaultPurpose: 'dashboard' };
  const list = url === '/ui' || url === '/ui/' || url === '/ui/devices/:deviceId';
  return {
    role: 'reader',
    action: list ? 'list' : 'read',
    purposeRequired: false,
    defaultPurpose: 'dashboard',
  };
}

/** Mounts the read API (/v1/sessions, /v1/records/…, blobs, exports, /v1/access) and the dashboard (/ui/). */
export async function mountReadAccess(
  app: FastifyInstance,
  access: ReadAccess,
  deps: { blobs: BlobStore },
): Promise<void> {
  const { readApiRoutes } = await import('../routes/read-api.ts');
  const { uiRoutes } = await import('../ui/routes.ts');
  await app.register(readApiRoutes, {
    control: access.control,
    reader: access.reader,
    blobs: deps.blobs,
    state: access.state,
  });
  await app.register(async (scope) => {
    installAccessHooks(scope, access.control, dashboardRule);
    await scope.register(uiRoutes, { reader: access.reader });
  });
}
