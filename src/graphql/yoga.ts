// The GraphQL endpoint: graphql-yoga over the Pothos schema, with query limits, error masking,
// and GraphiQL opening on a working example query.

import { useGraphQlJit } from '@envelop/graphql-jit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { type ExecutionArgs, GraphQLError, getOperationAST, type ValidationContext } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { ChainService } from '../audit/chain-service.ts';
import type { ReadLog } from '../audit/read-log.ts';
import type { AuditService } from '../audit/service.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { DomainError } from '../errors.ts';
import { useGraphQLTracing } from '../http/tracing.ts';
import { useGraphQLMetrics } from '../metrics.ts';
import type { LogStreamService } from '../streams/service.ts';
import { createLoaders, type EventSelection, type GraphQLContext } from './context.ts';
import { useCostLimit } from './cost.ts';
import { createErrorMasking, domainToGraphQLError, useInputErrorCodes, useNoSuggestions } from './errors.ts';
import { eventFieldsOf } from './event-fields.ts';
import { graphiqlOptions, renderGraphiQLPage } from './graphiql.ts';
import { useListLimits } from './list-limits.ts';
import { useAcceptedMediaTypes } from './media-types.ts';
import { schema } from './schema.ts';

export const GRAPHQL_LIMITS = { depth: 12, aliases: 100, tokens: 5000, cost: 50_000 } as const;

export { EXAMPLE_QUERY } from './graphiql.ts';

/** Handed in by the HTTP app for each request; `logger` carries the request id. */
export type ServerContext = { requestId: string; clientAddress: string; logger: Logger };

export type YogaOptions = {
  audit: AuditService;
  chain: ChainService;
  streams: LogStreamService;
  readLog: ReadLog;
  authenticator: Authenticator;
  logger: Logger;
  graphiql: boolean;
  introspection: boolean;
  production: boolean;
  /** Pre-filled in GraphiQL's headers tab (demo mode only). */
  demoApiKey?: string | undefined;
};

/**
 * Names an anonymous request's operation for the read log: the document's operation, or
 * `anonymous` when it has no name.
 */
function useReadOrigin(): Plugin {
  const name = ({ args }: { args: ExecutionArgs }) => {
    const origin = (args.contextValue as Partial<GraphQLContext>).viewer?.origin;
    if (!origin || origin.operation) return;
    origin.operation = getOperationAST(args.document, args.operationName)?.name?.value ?? 'anonymous';
  };
  // Subscriptions (the live tail) do not pass through onExecute.
  return { onExecute: name, onSubscribe: name };
}

/** Tells the event reads which AuditEvent fields the operation selects (src/graphql/event-fields.ts). */
function useEventProjection(): Plugin {
  return {
    onExecute({ args }) {
      const selection = (args.contextValue as Partial<GraphQLContext>).eventSelection;
      if (selection) selection.fields = eventFieldsOf(args.schema, args.document);
    },
  };
}

/** Turns an armor rejection into an error with a stable code that names the limit. */
function rejectWith(code: string, limit: number) {
  return [
    (ctx: ValidationContext | null, error: GraphQLError) => {
      const message = error.message.replace(/^Syntax Error: /, '');
      const refused = new GraphQLError(message, { extensions: { code, limit, http: { status: 400 } } });
      if (ctx) ctx.reportError(refused);
      else throw refused;
    },
  ];
}

export function createGraphQLServer(opts: YogaOptions) {
  const masking = createErrorMasking(opts.logger);
  const plugins: Plugin[] = [
    useAcceptedMediaTypes(),
    maxTokensPlugin({
      n: GRAPHQL_LIMITS.tokens,
      onReject: rejectWith('TOO_MANY_TOKENS', GRAPHQL_LIMITS.tokens),
    }) as Plugin,
    maxDepthPlugin({
      n: GRAPHQL_LIMITS.depth,
      propagateOnRejection: false,
      onReject: rejectWith('QUERY_TOO_DEEP', GRAPHQL_LIMITS.depth),
    }) as Plugin,
    maxAliasesPlugin({
      n: GRAPHQL_LIMITS.aliases,
      propagateOnRejection: false,
      onReject: rejectWith('TOO_MANY_ALIASES', GRAPHQL_LIMITS.aliases),
    }) as Plugin,
    useListLimits(),
    useCostLimit(GRAPHQL_LIMITS.cost),
    useInputErrorCodes(),
    useReadOrigin(),
    useEventProjection(),
    useGraphQlJit() as Plugin,
    masking.useUnexpectedErrorLog() as Plugin,
    useGraphQLMetrics(),
    useGraphQLTracing(),
  ];
  // Without introspection, "Did you mean …?" hints would still leak the schema.
  if (!opts.introspection) plugins.push(useDisableIntrospection(), useNoSuggestions());

  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    logging: false,
    // CORS is the HTTP app's, for every route alike (yoga's default echoes any origin).
    cors: false,
    // File uploads are not part of this API, and a multipart POST needs no CORS preflight.
    multipart: false,
    plugins,
    maskedErrors: { maskError: masking.maskError },
    // Served from this process (no CDN); the example tabs' time windows end at each page view.
    graphiql: opts.graphiql ? () => graphiqlOptions(opts.demoApiKey, new Date()) : false,
    renderGraphiQL: renderGraphiQLPage,
    context: async ({ request, params, requestId, clientAddress }) => {
      try {
        const viewer = {
          ...(await opts.authenticator.authenticate(request.headers, clientAddress)),
          // The operation's name: the one asked for, else the document's only one (see useReadOrigin).
          origin: { surface: 'graphql', operation: params.operationName ?? '', clientAddress, requestId },
        };
        const eventSelection: EventSelection = { fields: undefined };
        return {
          viewer,
          eventSelection,
          audit: opts.audit,
          chain: opts.chain,
          streams: opts.streams,
          readLog: opts.readLog,
          viewerTokens: opts.authenticator.viewerTokens,
          requestId,
          loaders: createLoaders(opts.audit, viewer, eventSelection),
        };
      } catch (error) {
        throw error instanceof DomainError ? domainToGraphQLError(error) : error;
      }
    },
  });
}
