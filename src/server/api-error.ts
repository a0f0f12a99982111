import type { FastifyReply } from 'fastify';

/** OpenAI's error `type` values that this server uses. */
export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'server_error' | 'overloaded_error';

/**
 * An error answered to the client in OpenAI's shape `{ error: { message, type, param, code } }`.
 * Everything a client can cause is one of these; anything else reaching the error handler is a
 * bug and becomes a 500 with a generic message (the details go to the log, never to the client).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: ApiErrorType = status === 401 ? 'authentication_error' : status === 404 ? 'not_found_error'
      : status >= 500 ? (status === 503 ? 'overloaded_error' : 'server_error') : 'invalid_request_error',
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): { error: { message: string; type: ApiErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 naming the request field at fault. */
export function badRequest(param: string, message: string, code: string | null = null): ApiError {
  return new ApiError(400, `${param}: ${message}`, param, code);
}

export function sendApiError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.status).type('application/json; charset=utf-8').send(err.toJSON());
}
