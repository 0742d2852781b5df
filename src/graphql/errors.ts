// Domain errors → GraphQL errors with a stable extensions.code (and HTTP status where the
// transport should reflect it). Anything unexpected is masked: logged with the request id,
// answered without SQL or stack traces.

import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import {
  ConflictError,
  DatabaseUnavailableError,
  DomainError,
  ForbiddenError,
  RateLimitedError,
  UnauthenticatedError,
  ValidationError,
} from '../audit/errors.ts';

function httpOf(error: DomainError): { status: number; headers?: Record<string, string> } | undefined {
  if (error instanceof UnauthenticatedError) return { status: 401 };
  if (error instanceof ForbiddenError) return { status: 403 };
  if (error instanceof RateLimitedError)
    return { status: 429, headers: { 'Retry-After': String(error.retryAfterSeconds) } };
  if (error instanceof DatabaseUnavailableError) {
    return { status: 503, headers: { 'Retry-After': String(error.retryAfterSeconds) } };
  }
  return undefined;
}

export function domainToGraphQLError(error: DomainError, base?: GraphQLError): GraphQLError {
  const field = error instanceof ValidationError || error instanceof ConflictError ? error.field : undefined;
  // Bad input found before execution (a variable's value, with no field path) is a bad request;
  // found by a resolver, it is that field's error in a 200 answer.
  const http =
    httpOf(error) ?? (error instanceof ValidationError && !base?.path ? { status: 400 } : undefined);
  return new GraphQLError(error.message, {
    nodes: base?.nodes,
    path: base?.path,
    originalError: error,
    extensions: { code: error.code, ...(field ? { field } : {}), ...(http ? { http } : {}) },
  });
}

export function maskError(logger: Logger) {
  return (error: unknown, _message: string): Error => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof DomainError) {
      return domainToGraphQLError(original, error instanceof GraphQLError ? error : undefined);
    }
    if (error instanceof GraphQLError && !original) return error;
    // graphql-js wraps its own coercion failures; those are the client's input, not our fault.
    if (error instanceof GraphQLError && isInputError(error)) return withCode(error, 'BAD_USER_INPUT');
    const requestId = (error instanceof GraphQLError && error.extensions?.requestId) || undefined;
    logger.error({ err: original ?? error, requestId }, 'unexpected error in GraphQL execution');
    return new GraphQLError('Unexpected error; it has been logged.', {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };
}

const INPUT_ERROR =
  /^(Variable "\$|Expected value of type|Expected type|Argument "|Field ".*" of required type|.* cannot represent|Value ".*" does not exist in ".*" enum)/;

function isInputError(error: GraphQLError): boolean {
  return INPUT_ERROR.test(error.message);
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/**
 * Gives argument and variable coercion failures (a malformed DateTime, an unknown enum value, a
 * wrong type) the code BAD_USER_INPUT. graphql-js reports them from validation or from building
 * the execution context, without a code of their own.
 */
export function useInputErrorCodes(): Plugin {
  const tag = <E extends Error>(errors: readonly E[]) =>
    errors.map((e) =>
      e instanceof GraphQLError &&
      !e.extensions?.code &&
      (isInputError(e) || e.originalError instanceof ValidationError)
        ? withCode(e, 'BAD_USER_INPUT')
        : e,
    );
  return {
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length > 0) setResult(tag(result));
      },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if ('errors' in result && result.errors && !('data' in result && result.data !== undefined)) {
          setResult({ ...result, errors: tag(result.errors) });
        }
      },
    }),
  };
}
