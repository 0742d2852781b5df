// Builds the HTTP handler: GraphQL at /graphql, the four vendor REST dialects and the batch
// route, health checks, the OpenAPI document and the public signing key. Pure: no listening,
// no process handling (that is src/cli/serve.ts and server.ts).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { PatternRouter } from 'hono/router/pattern-router';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import proxyAddr from 'proxy-addr';
import type { ChainService } from '../audit/chain-service.ts';
import type { ExportService } from '../audit/export-service.ts';
import type { ReadLog } from '../audit/read-log.ts';
import type { AuditService } from '../audit/service.ts';
import type { ChainSigner } from '../audit/signer.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Database } from '../db/client.ts';
import { ValidationError } from '../errors.ts';
import { GRAPHIQL_ASSETS_PATH, graphiqlAsset, graphiqlPagePolicy } from '../graphql/graphiql.ts';
import { createGraphQLServer } from '../graphql/yoga.ts';
import {
  collectProcessMetrics,
  recordHttpRequest,
  routeOf,
  scrape,
  scrapeAllowed,
  setDatabasePoolSize,
} from '../metrics.ts';
import { errorResponse } from '../rest/errors.ts';
import { registerExports } from '../rest/exports.ts';
import { registerMadkudu } from '../rest/madkudu.ts';
import { registerMural } from '../rest/mural.ts';
import { registerReplicated } from '../rest/replicated.ts';
import { restAuthentication, securitySchemes } from '../rest/security.ts';
import { registerViewerTokens } from '../rest/viewer-tokens.ts';
import { registerWasabi } from '../rest/wasabi.ts';
import type { LogStreamService } from '../streams/service.ts';
import type { AppEnv } from './http-env.ts';
import { withSseHeartbeat } from './sse-heartbeat.ts';
import { traceRequests } from './tracing.ts';
import { requireUtf8Body } from './utf8-body.ts';

/** Every path the REST dialects serve (Hono patterns), all behind API-key authentication. */
// Hono's `/x/*` matches `/x` as well: listing both ran restAuthentication (and its key lookup)
// twice for every MadKudu and Wasabi listing.
const REST_PREFIXES = [
  '/v1/audit/*',
  '/enterprise/v1/*',
  '/api/data/audit/*',
  '/audit/v1/*',
  '/v1/viewer-tokens',
  '/v1/exports/*',
];

export type AppDeps = {
  database: Database;
  audit: AuditService;
  chain: ChainService;
  exports: ExportService;
  streams: LogStreamService;
  readLog: ReadLog;
  authenticator: Authenticator;
  signer: ChainSigner;
  logger: Logger;
  options: {
    production: boolean;
    graphiql: boolean;
    introspection: boolean;
    bodyLimitBytes: number;
    trustedProxies: string[];
    madkuduRetentionMonths: number;
    /** Browser origins allowed to call the API cross-origin (CORS); none when empty. */
    corsOrigins?: readonly string[] | undefined;
    /** Longest silence on a live tail (SSE) before a comment line keeps proxies from closing it. */
    sseHeartbeatMs?: number | undefined;
    demoApiKey?: string | undefined;
    /** GET /metrics: served unless disabled; with a token, only to `Authorization: Bearer <token>`. */
    metrics: { enabled: boolean; token: string | undefined; poolSize: number };
  };
};

export type App = {
  fetch: (request: Request, env?: AppEnv['Bindings']) => Promise<Response>;
  /** The OpenAPI 3.1 document of the REST routes. */
  openApiDocument: () => unknown;
  /** Every handler Hono registered, as (method, path pattern); middleware shows as method `ALL`. */
  routes: () => { method: string; path: string }[];
};

export function createApp(deps: AppDeps): App {
  const { options, logger } = deps;
  const trust = proxyAddr.compile(options.trustedProxies);
  const app = new OpenAPIHono<AppEnv>({
    // A query or body that fails its schema: 400 naming the parameter.
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const parameter = issue?.path.length ? String(issue.path[0]) : 'body';
      const where = issue && issue.path.length > 1 ? issue.path.map(String).join('.') : parameter;
      return errorResponse(c, new ValidationError(where, issue?.message ?? 'is invalid'));
    },
  });

  // An incoming id is kept when it is short and plain (letters, digits, `_`, `-`, `=`) so it can
  // be followed through a proxy's logs; anything else is replaced by a fresh UUID.
  app.use(requestId({ headerName: 'X-Request-Id', limitLength: 128 }));
  app.use(traceRequests);
  app.use(async (c, next) => {
    const started = performance.now();
    const log = logger.child({ requestId: c.get('requestId') });
    c.set('logger', log);
    c.set('authenticator', deps.authenticator);
    c.set('clientAddress', clientAddressOf(c.req.raw.headers, c.env?.remoteAddress, trust));
    await next();
    // Every answer carries the id, also those Hono did not build (yoga's, GraphiQL's page).
    c.header('X-Request-Id', c.get('requestId'));
    recordHttpRequest(c.req.method, routeOf(c), c.res.status, (performance.now() - started) / 1000);
    const level = c.req.path === '/healthz' || c.req.path === '/readyz' ? 'debug' : 'info';
    log[level](
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
      },
      'request',
    );
  });
  const corsOrigins = new Set(options.corsOrigins ?? []);
  app.use(
    cors({
      // Only the configured origins, never a wildcard. No credentials: keys travel in headers the
      // calling page sets itself; a browser's cookies or saved Basic credentials must not.
      origin: (origin) => (corsOrigins.has(origin) ? origin : null),
      allowMethods: ['GET', 'HEAD', 'POST'],
      allowHeaders: ['Authorization', 'Content-Type', 'X-API-Key', 'Idempotency-Key', 'X-Request-Id'],
      // What a page reads beyond the CORS-safelisted headers: the request id and retry delay of
      // any answer, and an export's chain position and file name (src/rest/exports.ts).
      exposeHeaders: ['X-Request-Id', 'Retry-After', 'Export-Through-Sequence', 'Content-Disposition'],
      maxAge: 600,
    }),
  );
  // Before authentication: a known path with the wrong method is 405 whoever asks.
  let methodsFor: ((path: string) => string[]) | undefined;
  app.use(async (c, next) => {
    methodsFor ??= methodTable(app.routes);
    const allowed = methodsFor(c.req.path);
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    if (allowed.length === 0 || allowed.includes(method)) return next();
    c.header('Allow', allowed.join(', '));
    return refusal(
      c,
      405,
      'method_not_allowed',
      `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`,
    );
  });
  app.use(
    bodyLimit({
      maxSize: options.bodyLimitBytes,
      onError: (c) =>
        refusal(
          c,
          413,
          'payload_too_large',
          `The request body exceeds the limit of ${options.bodyLimitBytes} bytes`,
        ),
    }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  if (options.metrics.enabled) {
    collectProcessMetrics();
    setDatabasePoolSize(deps.database.kind === 'postgres' ? options.metrics.poolSize : 1);
    app.get('/metrics', async (c) => {
      if (!scrapeAllowed(c.req.header('authorization'), options.metrics.token))
        return c.json({ error: 'unauthorized', message: 'Send the metrics token as a Bearer token' }, 401);
      const { body, contentType } = await scrape();
      return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
    });
  }
  app.get('/readyz', async (c) => {
    try {
      await deps.database.ping(1000);
      return c.json({ status: 'ready', database: 'up', ...replicaDetail(deps.database) });
    } catch {
      c.header('Retry-After', '2');
      return c.json({ status: 'unavailable', database: 'down', ...replicaDetail(deps.database) }, 503);
    }
  });

  const yoga = createGraphQLServer({
    audit: deps.audit,
    chain: deps.chain,
    streams: deps.streams,
    readLog: deps.readLog,
    authenticator: deps.authenticator,
    logger,
    graphiql: options.graphiql,
    introspection: options.introspection,
    production: options.production,
    demoApiKey: options.demoApiKey,
  });
  app.use('/graphql', requireUtf8Body('graphql'));
  if (options.graphiql) {
    app.use('/graphql', graphiqlPagePolicy);
    app.get(`${GRAPHIQL_ASSETS_PATH}/:version/:file`, (c) =>
      graphiqlAsset(c.req.param('version'), c.req.param('file')),
    );
  }
  app.on(['GET', 'POST', 'OPTIONS'], '/graphql', async (c) =>
    platformResponse(
      withSseHeartbeat(
        await yoga.fetch(c.req.raw, {
          requestId: c.get('requestId'),
          clientAddress: c.get('clientAddress'),
          logger: c.get('logger'),
        }),
        options.sseHeartbeatMs ?? 10_000,
      ),
    ),
  );

  // Authentication first, before any route validates its parameters or body.
  for (const prefix of REST_PREFIXES) app.use(prefix, restAuthentication);
  app.use('/audit/v1/*', requireUtf8Body('rest'));
  app.use('/v1/viewer-tokens', requireUtf8Body('rest'));
  registerMadkudu(app, { audit: deps.audit, retentionMonths: options.madkuduRetentionMonths });
  registerMural(app, { audit: deps.audit });
  registerWasabi(app, { audit: deps.audit });
  registerReplicated(app, { audit: deps.audit });
  registerViewerTokens(app);
  registerExports(app, { exports: deps.exports, readLog: deps.readLog });

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', securitySchemes.bearer);
  app.openAPIRegistry.registerComponent('securitySchemes', 'apikey', securitySchemes.apikey);
  app.openAPIRegistry.registerComponent('securitySchemes', 'xApiKey', securitySchemes.xApiKey);
  app.openAPIRegistry.registerComponent('securitySchemes', 'basic', securitySchemes.basic);
  const openApiDocument = () =>
    app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: {
        title: 'Audit gateway REST compatibility APIs',
        version: '1.0.0',
        description:
          'MadKudu, Mural, Wasabi AiR and Replicated audit APIs, reproduced from their vendor documents, plus batch ingest.',
      },
    });
  app.get('/openapi.json', (c) => c.json(openApiDocument()));

  app.get('/.well-known/audit-signing-keys.json', (c) => c.json(deps.signer.jwks()));
  app.get('/.well-known/audit-signing-key.pem', (c) =>
    c.text(deps.signer.publicKeyPem(), 200, { 'Content-Type': 'application/x-pem-file' }),
  );
  app.get('/', (c) => c.redirect('/graphql'));

  app.notFound((c) => refusal(c, 404, 'not_found', `No route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => errorResponse(c, error));

  return {
    fetch: async (request, env = {}) => app.fetch(assumeJsonBody(request), env),
    openApiDocument,
    routes: () => app.routes.map(({ method, path }) => ({ method, path })),
  };
}

/**
 * A refusal by the HTTP layer itself (no route, wrong method, body too large), in the error shape
 * of the surface asked: GraphQL errors on /graphql, the REST error body elsewhere.
 */
function refusal(c: Context<AppEnv>, status: ContentfulStatusCode, code: string, message: string): Response {
  const requestId = c.get('requestId');
  if (c.req.path === '/graphql') {
    return c.json({ errors: [{ message, extensions: { code: code.toUpperCase(), requestId } }] }, status);
  }
  return c.json({ error: code, message, requestId }, status);
}

/**
 * The methods each path is served with, from the registered routes (middleware shows as `ALL`
 * and serves nothing by itself). GET also answers HEAD.
 */
function methodTable(routes: readonly { method: string; path: string }[]): (path: string) => string[] {
  const router = new PatternRouter<string>();
  const methods = new Set<string>();
  for (const { method, path } of routes) {
    if (method === 'ALL') continue;
    router.add(method, path, method);
    methods.add(method);
  }
  return (path) => {
    const allowed = [...methods].filter((m) => router.match(m, path)[0].length > 0);
    return allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
  };
}

/**
 * Yoga answers with its own Response class. A JSON answer is moved into the platform's Response,
 * which the Node adapter writes in one piece instead of reading it back as a stream (a
 * measurable share of a small query's cost); anything else (GraphiQL, event streams) passes as is.
 */
async function platformResponse(res: Response): Promise<Response> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json') && !type.startsWith('application/graphql-response+json'))
    return res;
  const headers = [...res.headers.entries()];
  return new Response(await res.text(), { status: res.status, statusText: res.statusText, headers });
}

/**
 * The client's address. X-Forwarded-For is unwrapped from the right only through proxies the
 * deployment declared trusted; otherwise a client could claim any address by sending the header.
 */
function clientAddressOf(
  headers: Headers,
  peer: string | undefined,
  trust: (addr: string, i: number) => boolean,
): string {
  if (!peer) return 'unknown';
  const forwarded = headers.get('x-forwarded-for');
  const address = proxyAddr(
    { headers: forwarded ? { 'x-forwarded-for': forwarded } : {}, socket: { remoteAddress: peer } } as never,
    trust,
  );
  // A dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d; that is the IPv4 address.
  return address.replace(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i, '$1');
}

/**
 * Legacy ingest clients often POST JSON without a fitting Content-Type (`curl -d` sends
 * application/x-www-form-urlencoded). Such a body is read as JSON rather than refused; any other
 * declared type (XML, multipart...) is still refused with 415. Not for a browser (it sends Origin
 * or Sec-Fetch-Site; curl and server-side clients, Node's fetch included, do not): a form-encoded
 * or text/plain POST is one any web page can send cross-site without a preflight, with saved Basic
 * credentials attached.
 */
function assumeJsonBody(request: Request): Request {
  if (request.method !== 'POST' || !new URL(request.url).pathname.startsWith('/audit/v1/')) return request;
  if (request.headers.has('origin') || request.headers.has('sec-fetch-site')) return request;
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (
    type !== undefined &&
    type !== '' &&
    type !== 'text/plain' &&
    type !== 'application/x-www-form-urlencoded'
  ) {
    return request;
  }
  const headers = new Headers(request.headers);
  headers.set('content-type', 'application/json');
  return new Request(request, { headers });
}

/** Read replicas in /readyz: their state never makes the gateway unready (the primary serves). */
function replicaDetail(database: Database) {
  const replicas = database.replicas();
  return replicas.length > 0 ? { replicas } : {};
}
