// Domain errors → GraphQL errors with a stable extensions.code (and HTTP status where the
// transport should reflect it). Anything unexpected is masked: logged with the request id,
// answered without SQL or stack traces. In production, no error hints at names in the schema.

import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import {
  ConflictError,
  DatabaseUnavailableError,
  DomainError,
  ForbiddenError,
  RateLimitedError,
  StreamEndedError,
  UnauthenticatedError,
  ValidationError,
} from '../errors.ts';

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

export function domainToGraphQLError(
  error: DomainError,
  base?: GraphQLError,
  extra?: Record<string, unknown>,
): GraphQLError {
  const field = error instanceof ValidationError || error instanceof ConflictError ? error.field : undefined;
  // Bad input found before execution (a variable's value, with no field path) is a bad request;
  // found by a resolver, it is that field's error in a 200 answer.
  const http =
    httpOf(error) ?? (error instanceof ValidationError && !base?.path ? { status: 400 } : undefined);
  return new GraphQLError(error.message, {
    nodes: base?.nodes,
    path: base?.path,
    originalError: error,
    extensions: {
      code: error.code,
      ...(field ? { field } : {}),
      ...(error instanceof StreamEndedError ? { lastCursor: error.lastCursor } : {}),
      ...extra,
      ...(http ? { http } : {}),
    },
  });
}

/**
 * Error masking and its log line. An unexpected error is answered as INTERNAL_SERVER_ERROR without
 * its message; the original is logged with the request's own logger, which carries the request id
 * (yoga calls maskError without the request, so the log waits until the answer is written).
 */
export function createErrorMasking(fallbackLogger: Logger) {
  const unexpected = new WeakMap<GraphQLError, unknown>();
  const maskError = (error: unknown, _message: string): Error => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof DomainError) {
      return domainToGraphQLError(original, error instanceof GraphQLError ? error : undefined);
    }
    if (error instanceof GraphQLError && !original) return error;
    // graphql-js wraps its own coercion failures; those are the client's input, not our fault.
    if (error instanceof GraphQLError && isInputError(error)) return withCode(error, 'BAD_USER_INPUT');
    const masked = new GraphQLError('Unexpected error; it has been logged.', {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    unexpected.set(masked, original ?? error);
    return masked;
  };
  const useUnexpectedErrorLog = (): Plugin<Record<string, never>, { logger?: Logger }> => ({
    onResultProcess({ result, serverContext }) {
      const logger = serverContext.logger ?? fallbackLogger;
      for (const error of errorsOf(result)) {
        const original = error instanceof GraphQLError ? unexpected.get(error) : undefined;
        if (original !== undefined) logger.error({ err: original }, 'unexpected error in GraphQL execution');
      }
    },
  });
  return { maskError, useUnexpectedErrorLog };
}

type ResultPayload = Parameters<NonNullable<Plugin['onResultProcess']>>[0]['result'];

function errorsOf(result: ResultPayload): readonly unknown[] {
  const results = Array.isArray(result) ? result : [result];
  return results.flatMap((r) => (r && 'errors' in r && Array.isArray(r.errors) ? r.errors : []));
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * Drops graphql-js's "Did you mean …?" hints (field, argument, input field, enum value and type
 * names) from every error of every answer, wherever the error came from: with introspection off
 * they would still spell out the schema one typo at a time. graphql 16 cannot switch them off.
 */
export function useNoSuggestions(): Plugin {
  const strip = (error: GraphQLError): GraphQLError => {
    const message = error.message.replace(SUGGESTION, '');
    if (message === error.message) return error;
    return new GraphQLError(message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions,
    });
  };
  return {
    onResultProcess({ result, setResult }) {
      const each = <R>(r: R): R =>
        r && typeof r === 'object' && 'errors' in r && Array.isArray(r.errors)
          ? { ...r, errors: r.errors.map(strip) }
          : r;
      setResult(Array.isArray(result) ? result.map(each) : each(result));
    },
  };
}

const INPUT_ERROR =
  /^(Variable "\$|Expected value of type|Expected type|Argument "|Field ".*" of required type|.* cannot represent|Value ".*" does not exist in ".*" enum)/;

function isInputError(error: GraphQLError): boolean {
  return INPUT_ERROR.test(error.message);
}

function withCode(error: GraphQLError, code: string, requestError = false): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    // A request refused before execution has no `data`: GraphQL over HTTP wants a 4xx for it
    // (a must for application/graphql-response+json), and bad input is the client's error. A
    // field error beside data keeps the 200.
    extensions: {
      ...error.extensions,
      code,
      ...(requestError ? { http: error.extensions?.http ?? { status: 400 } } : {}),
    },
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
        ? withCode(e, 'BAD_USER_INPUT', true)
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
