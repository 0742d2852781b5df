// Optional tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, each request's spans reach an OTLP/HTTP
// collector (here a local one that keeps what it is sent), and every span names the request id.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

type OtlpSpan = {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
};
type OtlpExport = { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };

describe('OpenTelemetry tracing', () => {
  let collector: Server;
  const spans: OtlpSpan[] = [];
  let g: TestGateway;

  beforeAll(async () => {
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        if (req.url === '/v1/traces') {
          const sent = JSON.parse(body) as OtlpExport;
          for (const r of sent.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    g = await startTestGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await new Promise((resolve) => collector.close(resolve));
  });

  const attribute = (span: OtlpSpan, key: string) => {
    const value = span.attributes.find((a) => a.key === key)?.value;
    return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
  };

  it('exports a request span and its GraphQL operation span, both with the request id', async () => {
    const tenant = await g.newTenant('traced');
    const res = await g.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-0001' },
      body: JSON.stringify({ query: 'query Traced { viewer { scopes } }' }),
      key: tenant.readKey,
    });
    expect(res.status).toBe(200);
    await g.close(); // flushes the exporter

    const mine = spans.filter((s) => attribute(s, 'request.id') === 'trace-me-0001');
    const request = mine.find((s) => s.name === 'POST /graphql');
    const operation = mine.find((s) => s.name === 'graphql.query');
    expect(request, JSON.stringify(spans.map((s) => s.name))).toBeDefined();
    expect(attribute(request as OtlpSpan, 'http.route')).toBe('/graphql');
    expect(attribute(request as OtlpSpan, 'http.response.status_code')).toBe(200);
    expect(operation).toBeDefined();
    expect(attribute(operation as OtlpSpan, 'graphql.operation.name')).toBe('Traced');
    expect(operation?.traceId).toBe(request?.traceId);
    expect(operation?.parentSpanId).toBe(request?.spanId);
  });
});
