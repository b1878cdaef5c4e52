// The transparency log: its latest checkpoint and consistency proofs between two sizes.
import { routePlugin } from './plugin.ts';
import { errorReply } from './schemas.ts';

export const logRoutes = routePlugin((app, { ingest }) => {
  app.get('/v1/log/checkpoint', {
    schema: { summary: 'Latest checkpoint (C2SP signed note)', response: { 200: { type: 'string' } } },
    // Another receiver on the same database may have appended since this one last looked.
    handler: async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send(await ingest.latestCheckpoint()),
  });

  app.get('/v1/log/consistency', {
    schema: {
      summary: 'RFC 9162 consistency proof between two tree sizes',
      querystring: {
        type: 'object',
        required: ['first', 'second'],
        properties: { first: { type: 'integer', minimum: 0 }, second: { type: 'integer', minimum: 0 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['first', 'second', 'proof'],
          properties: {
            first: { type: 'integer' },
            second: { type: 'integer' },
            proof: { type: 'array', items: { type: 'string' } },
          },
        },
        '4xx': errorReply,
      },
    },
    handler: async (req) => {
      const { first, second } = req.query as { first: number; second: number };
      return { first, second, proof: await ingest.consistencyProofAt(first, second) };
    },
  });
});
