// Optional OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is configured, and then
// spans go to that collector over OTLP/HTTP. The SDK is loaded only then; without it every span
// call below is the API's no-op. Each span carries the request id, as the logs do.
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { MiddlewareHandler } from 'hono';
import { routeOf } from '../metrics.ts';
import type { AppEnv } from './http-env.ts';

const tracer = trace.getTracer('audit-gateway');

export type Tracing = { shutdown(): Promise<void> };

let started: Promise<Tracing> | undefined;

/** Starts exporting spans (once per process: the tracer provider and context manager are global). */
export function startTracing(endpoint: string, serviceName = 'audit-gateway'): Promise<Tracing> {
  started ??= (async () => {
    const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
      await Promise.all([
        import('@opentelemetry/sdk-trace-base'),
        import('@opentelemetry/exporter-trace-otlp-http'),
        import('@opentelemetry/resources'),
      ]);
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    trace.setGlobalTracerProvider(provider);
    return { shutdown: () => provider.forceFlush() };
  })();
  return started;
}

/** One server span per request, named by route pattern; later spans in the request are its children. */
export const traceRequests: MiddlewareHandler<AppEnv> = (c, next) =>
  tracer.startActiveSpan(
    c.req.method,
    {
      kind: SpanKind.SERVER,
      attributes: { 'request.id': c.get('requestId'), 'http.request.method': c.req.method },
    },
    async (span) => {
      try {
        await next();
        const route = routeOf(c);
        span.updateName(`${c.req.method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': c.res.status });
        if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      } finally {
        span.end();
      }
    },
  );

/** Yoga plugin: a span per executed operation, a child of its request's span. */
export function useGraphQLTracing(): Plugin {
  return {
    onExecute({ args }) {
      const operation = getOperationAST(args.document, args.operationName);
      const requestId = (args.contextValue as { requestId?: string }).requestId ?? 'unknown';
      const span = tracer.startSpan(`graphql.${operation?.operation ?? 'operation'}`, {
        attributes: {
          'request.id': requestId,
          'graphql.operation.type': operation?.operation ?? 'unknown',
          ...(operation?.name ? { 'graphql.operation.name': operation.name.value } : {}),
        },
      });
      return {
        onExecuteDone({ result }) {
          if ('errors' in result && Array.isArray(result.errors) && result.errors.length > 0)
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'the result has errors' });
          span.end();
        },
      };
    },
  };
}
