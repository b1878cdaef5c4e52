// JSON schemas several routes share: the refusal body, a DSSE envelope and a custody answer.
import type { FastifyInstance } from 'fastify';

export const errorReply = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, hint: { type: 'string' } },
} as const;

export const envelopeSchema = {
  type: 'object',
  required: ['payloadType', 'payload', 'signatures'],
  properties: {
    payloadType: { type: 'string' },
    payload: { type: 'string' },
    signatures: {
      type: 'array',
      items: {
        type: 'object',
        required: ['keyid', 'sig'],
        properties: { keyid: { type: 'string' }, sig: { type: 'string' } },
      },
    },
  },
} as const;

/** The schema of a custody answer, registered once for $ref. */
export function addSharedSchemas(app: FastifyInstance): void {
  app.addSchema({
    $id: 'custodyAnswer',
    type: 'object',
    required: ['receipt', 'logIndex', 'checkpoint', 'inclusionProof'],
    properties: {
      receipt: envelopeSchema,
      logIndex: { type: 'integer' },
      checkpoint: { type: 'string' },
      inclusionProof: { type: 'array', items: { type: 'string' } },
    },
  });
}
