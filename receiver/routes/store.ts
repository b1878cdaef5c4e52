// GET /v1/store: the store's identity, log size and (with `--region`) its region.
import { noteVerifierKey } from '../../agent/records/checkpoint.ts';
import type { RecordIngest } from '../ingest.ts';
import type { StoreKey } from '../store-key.ts';
import { routePlugin } from './plugin.ts';

export const storeRoutes = routePlugin((app, { key, ingest }) => {
  app.get('/v1/store', {
    schema: {
      summary: 'Store identity: id, log origin, public key, note verifier key',
      response: {
        200: {
          type: 'object',
          required: ['storeId', 'origin', 'publicKeyPem', 'noteVerifierKey', 'logSize'],
          properties: {
            storeId: { type: 'string' },
            origin: { type: 'string' },
            publicKeyPem: { type: 'string' },
            noteVerifierKey: { type: 'string' },
            logSize: { type: 'integer' },
            region: { type: 'string' },
          },
        },
      },
    },
    handler: async () => storeAnswer(key, ingest),
  });
});

function storeAnswer(key: StoreKey, ingest: RecordIngest): Record<string, unknown> {
  return {
    storeId: key.storeId,
    origin: ingest.origin,
    publicKeyPem: key.publicKeyPem,
    noteVerifierKey: noteVerifierKey(ingest.origin, key.privateKey),
    logSize: ingest.logSize,
    ...(ingest.region === undefined ? {} : { region: ingest.region }),
  };
}
