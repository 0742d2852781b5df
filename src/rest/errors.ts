// Domain errors → REST responses: a status code and a JSON body naming the parameter and the
// reason. Unexpected errors are logged with the request id and answered with a bare 500.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ConflictError,
  DatabaseUnavailableError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  UnauthenticatedError,
  ValidationError,
} from '../errors.ts';
import type { AppEnv } from '../http/http-env.ts';

export const ErrorBody = z
  .object({
    error: z.string().openapi({ description: 'Stable machine-readable code.', example: 'invalid_parameter' }),
    message: z.string().openapi({
      description: 'What went wrong, for a person.',
      example: 'maxResults: must be between 1 and 50000',
    }),
    parameter: z.string().optional().openapi({
      description: 'The offending parameter or body field, when there is one.',
      example: 'maxResults',
    }),
    requestId: z.string().optional().openapi({ description: 'Quote this when reporting a problem.' }),
  })
  .openapi('Error');

export type ErrorBodyShape = z.infer<typeof ErrorBody>;

export const errorResponses = {
  400: {
    description: 'A parameter is invalid; the body names it.',
    content: { 'application/json': { schema: ErrorBody } },
  },
  401: {
    description:
      'No API key, or an invalid or revoked one; or a viewer token that expired or whose key was revoked.',
    content: { 'application/json': { schema: ErrorBody } },
  },
  403: {
    description: 'The API key lacks the scope this route needs.',
    content: { 'application/json': { schema: ErrorBody } },
  },
  429: {
    description:
      'Too many failed authentications from this address; until `Retry-After`, only a valid key is served.',
    content: { 'application/json': { schema: ErrorBody } },
  },
  503: {
    description: 'The database is unavailable; retry after `Retry-After` seconds.',
    content: { 'application/json': { schema: ErrorBody } },
  },
} as const;

const { 400: _, ...withoutBadRequest } = errorResponses;
/** For a route a client cannot send a wrong parameter to: no query, and an id that is at worst not found. */
export const errorResponsesWithoutBadRequest = withoutBadRequest;

export const notFoundResponse = {
  404: {
    description: "No such event for this API key's tenant.",
    content: { 'application/json': { schema: ErrorBody } },
  },
} as const;

function statusOf(error: DomainError): { status: ContentfulStatusCode; code: string } {
  if (error instanceof ValidationError) return { status: 400, code: 'invalid_parameter' };
  if (error instanceof NotFoundError) return { status: 404, code: 'not_found' };
  if (error instanceof UnauthenticatedError) return { status: 401, code: 'unauthenticated' };
  if (error instanceof ForbiddenError) return { status: 403, code: 'forbidden' };
  if (error instanceof ConflictError) return { status: 409, code: 'idempotency_conflict' };
  if (error instanceof RateLimitedError) return { status: 429, code: 'rate_limited' };
  if (error instanceof DatabaseUnavailableError) return { status: 503, code: 'service_unavailable' };
  return { status: 400, code: error.code.toLowerCase() };
}

/** The JSON body for a domain error: the same in an error response and in a batch's rejected item. */
export function errorBody(error: DomainError, requestId: string): ErrorBodyShape {
  const body: ErrorBodyShape = { error: statusOf(error).code, message: error.message, requestId };
  if (error instanceof ValidationError || error instanceof ConflictError) body.parameter = error.field;
  return body;
}

/** The JSON error response for any error thrown while handling a REST request. */
export function errorResponse(c: Context<AppEnv>, error: unknown): Response {
  const requestId = c.get('requestId');
  if (error instanceof DomainError) {
    const { status } = statusOf(error);
    const body = errorBody(error, requestId);
    if (error instanceof RateLimitedError) c.header('Retry-After', String(error.retryAfterSeconds));
    if (error instanceof DatabaseUnavailableError) c.header('Retry-After', String(error.retryAfterSeconds));
    return c.json(body, status);
  }
  // Hono's body validator throws a bare 400 when the body is not JSON at all.
  if (error instanceof HTTPException && error.status === 400) {
    return errorResponse(c, new ValidationError('body', 'is not valid JSON'));
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    const code =
      status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request';
    return c.json(
      { error: code, message: error.message || 'Bad request', requestId } satisfies ErrorBodyShape,
      status,
    );
  }
  c.get('logger').error({ err: error }, 'unexpected error'); // the request's logger names the request id
  return c.json(
    {
      error: 'internal_error',
      message: 'Unexpected error; it has been logged.',
      requestId,
    } satisfies ErrorBodyShape,
    500,
  );
}
