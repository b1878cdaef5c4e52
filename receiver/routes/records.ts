// POST /v1/records. With request authentication on, a record is accepted from a signed request of
// an enrolled device (its Content-Digest checked against the raw body), or unsigned only as an
// enrolment: carrying the one-time token, which the enrolment gate (the device registry) and the
// ingest check.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { RigcapError } from '../../agent/errors.ts';
import { sha256OfContentDigest } from '../../agent/records/http-signature.ts';
import type { EnrolmentGate } from '../auth/device-directory.ts';
import { signableOf } from '../auth/request-auth.ts';
import type { SubmitOptions } from '../ingest.ts';
import { viewRecord } from '../record-view.ts';
import { routePlugin } from './plugin.ts';
import { envelopeSchema, errorReply } from './schemas.ts';

/** Header a device sends its one-time enrolment token in. */
export const enrollTokenHeader = 'rigcap-enroll-token';

/** A device-key enrol record passes the enrolment gate: a registered id with its own token, or a start-up token. */
async function submitOptions(
  bytes: Uint8Array,
  token: unknown,
  gate: EnrolmentGate | undefined,
): Promise<SubmitOptions> {
  if (typeof token !== 'string') return {};
  const view = viewRecord(bytes);
  if (gate === undefined || view.predicateName !== 'device-key' || view.predicate['action'] !== 'enrol')
    return { enrollToken: token };
  const registered = await gate.check(view.chain.deviceId, token);
  return registered === undefined
    ? { enrollToken: token }
    : { enrollToken: token, registeredToken: registered };
}

export const recordRoutes = routePlugin((app, { ingest, auth, enrolment }) => {
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
      const bytes = Buffer.from(`${JSON.stringify(req.body)}\n`, 'utf8');
      const options = await submitOptions(bytes, req.headers[enrollTokenHeader], enrolment);
      const result = await ingest.submit(bytes, options);
      return reply.code(result.status).send({
        receipt: result.receipt,
        logIndex: result.logIndex,
        checkpoint: result.checkpoint,
        inclusionProof: result.inclusionProof,
      });
    },
  });
});
