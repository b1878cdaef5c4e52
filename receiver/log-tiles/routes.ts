// GET /log/checkpoint and /log/tile/… : the published tlog-tiles served by the receiver from where
// they are published (directory or bucket), with the same paths, content types and cache policy a
// static server or CDN in front of that directory or bucket would give them.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { isTilePath, tileFileKind, type TileSink } from './sinks.ts';

/** The route group; `sink` is where the receiver publishes its tiles. */
export const tileRoutes: FastifyPluginAsync<{ sink: TileSink }> = async (app: FastifyInstance, { sink }) => {
  app.get('/log/*', {
    schema: {
      summary: 'The log as C2SP tlog-tiles: /log/checkpoint, /log/tile/<L>/<N>[.p/<W>], /log/tile/entries/…',
      params: { type: 'object', properties: { '*': { type: 'string' } } },
    },
    handler: async (req, reply) => {
      const path = (req.params as { '*': string })['*'];
      const bytes = isTilePath(path) ? await sink.read(path) : undefined;
      if (bytes === undefined)
        return reply
          .code(404)
          .type('text/plain; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send('not published\n');
      const kind = tileFileKind(path);
      return reply
        .type(kind.contentType)
        .header('cache-control', kind.cacheControl)
        .header('access-control-allow-origin', '*')
        .send(Buffer.from(bytes));
    },
  });
};
