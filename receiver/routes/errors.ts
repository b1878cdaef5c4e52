// How the receiver answers an error: a RigcapError by its code's status, fastify's own client
// errors as RIGCAP_RECEIVER_BAD_REQUEST (an oversize body as RIGCAP_RECEIVER_OVERSIZE), the rest 500.
import type { FastifyInstance } from 'fastify';
import { isRigcapError, type ErrorCode } from '../../agent/errors.ts';
import type { Logger } from '../../agent/log.ts';

/** HTTP status for each refusal code. */
const statusOf: Partial<Record<ErrorCode, number>> = {
  RIGCAP_RECEIVER_BAD_REQUEST: 400,
  RIGCAP_RECEIVER_BAD_RECORD: 400,
  RIGCAP_RECEIVER_BAD_NAME: 400,
  RIGCAP_RECEIVER_BAD_SIGNATURE: 401,
  RIGCAP_RECEIVER_UNAUTHENTICATED: 401,
  RIGCAP_RECEIVER_REPLAY: 401,
  RIGCAP_RECEIVER_NOT_REGISTERED: 403,
  RIGCAP_RECEIVER_QUOTA: 429,
  RIGCAP_RECEIVER_UNKNOWN_DEVICE: 403,
  RIGCAP_RECEIVER_ENROLL_REFUSED: 403,
  RIGCAP_RECEIVER_KEY_REVOKED: 403,
  RIGCAP_RECEIVER_CHAIN_FORK: 409,
  RIGCAP_RECEIVER_BLOB_MISSING: 412,
  RIGCAP_RECEIVER_OVERSIZE: 413,
  RIGCAP_RECEIVER_DIGEST_MISMATCH: 422,
  RIGCAP_RECEIVER_CHECKSUM_MISMATCH: 460,
  RIGCAP_ACCESS_UNAUTHENTICATED: 401,
  RIGCAP_ACCESS_DENIED: 403,
  RIGCAP_ACCESS_PURPOSE_REQUIRED: 400,
  RIGCAP_ACCESS_LOG_UNAVAILABLE: 503,
  RIGCAP_STORE_BACKEND_UNAVAILABLE: 503,
  RIGCAP_SESSION_UNKNOWN: 404,
  RIGCAP_NOT_FOUND: 404,
};

/** Sets the app's error handler (on the root, so every route group answers alike). */
export function setReceiverErrorHandler(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err, _req, reply) => {
    if (isRigcapError(err)) {
      const status = statusOf[err.code] ?? 500;
      if (status >= 500) log.error({ err, code: err.code }, 'receiver error');
      else log.warn({ code: err.code, reason: err.message }, 'refused');
      return reply.code(status).send({ code: err.code, message: err.message, hint: err.hint });
    }
    const fastifyErr = err as { statusCode?: number; code?: string; message: string };
    if (fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        code: 'RIGCAP_RECEIVER_OVERSIZE',
        message: 'request body larger than the configured part or record limit',
      });
    }
    if (fastifyErr.statusCode !== undefined && fastifyErr.statusCode < 500) {
      return reply
        .code(fastifyErr.statusCode)
        .send({ code: 'RIGCAP_RECEIVER_BAD_REQUEST', message: fastifyErr.message });
    }
    log.error({ err }, 'receiver error');
    return reply.code(500).send({ code: 'RIGCAP_INTERNAL', message: fastifyErr.message });
  });
}
