// HEAD /v1/blobs/sha256/:hex: whether the store holds a blob (200 with its length, or 404).
import { routePlugin } from './plugin.ts';

export const blobRoutes = routePlugin((app, { blobs }) => {
  app.route({
    method: 'HEAD',
    url: '/v1/blobs/sha256/:hex',
    schema: {
      summary: 'Is a blob stored? 200 yes, 404 no',
      params: {
        type: 'object',
        required: ['hex'],
        properties: { hex: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
      },
    },
    handler: async (req, reply) => {
      const { hex } = req.params as { hex: string };
      const size = await blobs.size(hex);
      if (size === undefined) return reply.code(404).send();
      return reply.code(200).header('content-length', String(size)).send();
    },
  });
});
