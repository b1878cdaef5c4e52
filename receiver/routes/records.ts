// POST /v1/records. With request authentication on, a record is accepted from a signed request of
// an enrolled device (its Content-Digest checked against the raw body), or unsigned only as an
// enrolment: carrying the one-time token, which the ingest checks.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { RigcapError } from '../../agent/errors.ts';
import { sha256OfContentDigest } from '../../agent/records/http-signature.ts';
import { signableOf } from '../auth/request-auth.ts';
import { routePlugin } from './plugin.ts';
import { envelopeSchema, errorReply } from './schemas.ts';

/** Header a device sends its one-time enrolment token in. */
export const enrollTokenHeader = 'rigcap-enroll-token';

export const recordRoutes = routePlugin((app, { ingest, auth }) => {
  const bodyDigests = new WeakMap<FastifyRequest, Buffer>();
  app.post('/v1/records', {
    schema: {
      summary: 'Submit a signed record (DSSE envelope); answers with a custody receipt',
      headers: { type: 'object', properties: { [enrollTokenHeader]: { type: 'string' } } },
      body: envelopeSchema,
      response: {
        200: { $ref: 'custodyAnswer#' },
        201: { $ref: 'custodyAnswer#' },
        '4xx': errorReply,
      },
    },
    preParsing: async (req, _reply, payload) => {
      if (auth === undefined) return payload;
      const hash = createHash('sha256');
      return payload.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
          flush(done) {
            bodyDigests.set(req, hash.digest());
            done();
          },
        }),
      );
    },
    preHandler: async (req) => {
      if (auth === undefined) return;
      // An enrolment (the device-key record with its one-time token) comes before the key is known.
      if (typeof req.headers[enrollTokenHeader] === 'string') return;
      await auth.authenticate(signableOf(req));
      const signed = sha256OfContentDigest(String(req.headers['content-digest'] ?? ''));
      const actual = bodyDigests.get(req) ?? createHash('sha256').digest();
      if (signed === undefined || !signed.equals(actual)) {
        throw new RigcapError(
          'RIGCAP_RECEIVER_BAD_SIGNATURE',
          'the body does not match the signed Content-Digest',
        );
      }
    },
    handler: async (req, reply) => {
      const token = req.headers[enrollTokenHeader];
      const bytes = Buffer.from(`${JSON.stringify(req.body)}\n`, 'utf8');
      const result = await ingest.submit(bytes, typeof token === 'string' ? { enrollToken: token } : {});
      return reply.code(result.status).send({
        receipt: result.receipt,
        logIndex: result.logIndex,
        checkpoint: result.checkpoint,
        inclusionProof: result.inclusionProof,
      });
    },
  });
});
