// Prometheus metrics of the process, scraped at GET /metrics. Transports and the audit service
// call the record* functions below, one line at each place. Labels are bounded and never name a
// tenant, a key or event data: route patterns (not paths), GraphQL root fields (not operation
// names, which clients choose freely), status codes and outcomes.
import { timingSafeEqual } from 'node:crypto';
import type { OperationDefinitionNode } from 'graphql';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { DatabaseUnavailableError, DomainError } from './errors.ts';

export const registry = new Registry();

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const httpRequestDuration = new Histogram({
  name: 'agw_http_request_duration_seconds',
  help: 'HTTP requests by surface, route pattern, method and status, with their latency.',
  labelNames: ['surface', 'route', 'method', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

const graphqlOperationDuration = new Histogram({
  name: 'agw_graphql_operation_duration_seconds',
  help: 'Executed GraphQL operations by type and root field ("multiple" for several), and whether the result had errors.',
  labelNames: ['type', 'field', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

const eventsIngested = new Counter({
  name: 'agw_events_ingested_total',
  help: 'Events committed by ingest: stored (new), replayed (same idempotency key and body), conflict (key reused with another body).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

const ingestBatchSize = new Histogram({
  name: 'agw_ingest_batch_size',
  help: 'Valid events per ingest request (one for a single event).',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
  registers: [registry],
});

const chainAppends = new Counter({
  name: 'agw_chain_appends_total',
  help: 'Committed transactions that appended to a tenant hash chain (concurrent requests share one).',
  registers: [registry],
});

const chainAppendSize = new Histogram({
  name: 'agw_chain_append_size',
  help: 'Events per committed chain append transaction.',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
  registers: [registry],
});

const checkpointsSigned = new Counter({
  name: 'agw_chain_checkpoints_signed_total',
  help: 'Checkpoints signed over a chain head (in the transaction that stores them).',
  registers: [registry],
});

const liveStreamsOpen = new Gauge({
  name: 'agw_live_streams_open',
  help: 'Live tail subscriptions (auditEventStream) open on this instance.',
  registers: [registry],
});

const liveStreamEvents = new Counter({
  name: 'agw_live_stream_events_delivered_total',
  help: 'Events handed to live tail subscribers on this instance.',
  registers: [registry],
});

const liveStreamsEnded = new Counter({
  name: 'agw_live_streams_ended_total',
  help: 'Live tail subscriptions ended by the server, by reason (an error code such as SLOW_CONSUMER).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const databaseTransactions = new Gauge({
  name: 'agw_db_transactions_in_flight',
  help: 'Tenant transactions holding a database connection right now.',
  registers: [registry],
});

const databasePoolSize = new Gauge({
  name: 'agw_db_pool_max_connections',
  help: 'Connections the serving pool may open (1 for the embedded database).',
  registers: [registry],
});

const databaseErrors = new Counter({
  name: 'agw_db_errors_total',
  help: 'Failed tenant transactions: unavailable (database unreachable) or query (any other driver error).',
  labelNames: ['kind'] as const,
  registers: [registry],
});

const databaseReads = new Counter({
  name: 'agw_db_reads_total',
  help: "Read transactions by where they ran: replica, or primary with why (no_replicas configured, none_ready: every replica down or lagging, behind: no replica had replayed the tenant's last write, replica_failed: the replica failed mid-read and the primary answered).",
  labelNames: ['served_by', 'reason'] as const,
  registers: [registry],
});

const replicaState = new Gauge({
  name: 'agw_db_replica_state',
  help: "Each read replica's state: 1 for the state it is in (ready, lagging, down, not_standby), 0 for the others. Only ready replicas serve reads.",
  labelNames: ['replica', 'state'] as const,
  registers: [registry],
});

const replicaLag = new Gauge({
  name: 'agw_db_replica_lag_seconds',
  help: 'How old the oldest primary WAL a read replica has not replayed is (0 when caught up), as of its last health check.',
  labelNames: ['replica'] as const,
  registers: [registry],
});

const authKeyLookups = new Counter({
  name: 'agw_auth_key_lookups_total',
  help: "API key rows an authentication needed, by where they came from: cache (this process's key cache) or database (a read: not cached, older than AUTH_CACHE_MAX_AGE_MS, evicted, or a long-lived stream's recheck).",
  labelNames: ['source'] as const,
  registers: [registry],
});

const readLogRecords = new Counter({
  name: 'agw_read_log_records_total',
  help: 'Read-log records: written (stored in audit_reads), dropped_queue_full (the bounded queue was full), dropped_write_failed (their batch failed to write).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

let processMetrics = false;

/** Process CPU, memory, event-loop lag and GC, once per process (they start a monitor). */
export function collectProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** The route pattern of the handler that answered (not the raw path); "unmatched" for a 404. */
export function routeOf(c: Context): string {
  const handler = matchedRoutes(c).findLast((r) => r.method !== 'ALL');
  return handler ? handler.path : 'unmatched';
}

function surfaceOf(route: string): string {
  if (route === '/graphql') return 'graphql';
  if (route.startsWith('/graphiql/')) return 'graphiql';
  if (/^\/(v1\/audit|enterprise\/v1|api\/data\/audit|audit\/v1)(\/|$)/.test(route)) return 'rest';
  if (route === '/healthz' || route === '/readyz' || route === '/metrics') return 'operations';
  return 'other';
}

export function recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
  httpRequestDuration.observe(
    { surface: surfaceOf(route), route, method: method.toUpperCase(), status: String(status) },
    seconds,
  );
}

/** Yoga plugin: one observation per executed operation (parse or validation failures never execute). */
export function useGraphQLMetrics(): Plugin {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const operation = getOperationAST(args.document, args.operationName);
      const labels = { type: operation?.operation ?? 'unknown', field: rootFieldOf(operation) };
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && Array.isArray(result.errors) && result.errors.length > 0;
          graphqlOperationDuration.observe(
            { ...labels, outcome: failed ? 'error' : 'ok' },
            (performance.now() - started) / 1000,
          );
        },
      };
    },
  };
}

/** The one root field an operation selects (a schema field, so bounded), or "multiple". */
function rootFieldOf(operation: OperationDefinitionNode | null | undefined): string {
  const selections = operation?.selectionSet.selections ?? [];
  const fields = new Set(selections.map((s) => (s.kind === 'Field' ? s.name.value : '…')));
  const [only] = fields;
  return fields.size === 1 && only !== undefined && only !== '…' ? only : 'multiple';
}

// ---------------------------------------------------------------------------------------------
// Ingest and the chain

export function recordIngestBatch(size: number): void {
  ingestBatchSize.observe(size);
}

export function recordChainAppend(outcomes: readonly { kind: 'stored' | 'replayed' | 'conflict' }[]): void {
  chainAppends.inc();
  chainAppendSize.observe(outcomes.length);
  for (const outcome of ['stored', 'replayed', 'conflict'] as const) {
    const n = outcomes.filter((o) => o.kind === outcome).length;
    if (n > 0) eventsIngested.inc({ outcome }, n);
  }
}

export function recordCheckpointSigned(): void {
  checkpointsSigned.inc();
}

// ---------------------------------------------------------------------------------------------
// The read log

export function recordReadLog(
  outcome: 'written' | 'dropped_queue_full' | 'dropped_write_failed',
  n = 1,
): void {
  if (n > 0) readLogRecords.inc({ outcome }, n);
}

// ---------------------------------------------------------------------------------------------
// Database

export function liveStreamOpened(): void {
  liveStreamsOpen.inc();
}

export function liveStreamClosed(endedBy: string | undefined): void {
  liveStreamsOpen.dec();
  if (endedBy) liveStreamsEnded.inc({ reason: endedBy });
}

export function recordLiveStreamDelivered(events: number): void {
  liveStreamEvents.inc(events);
}

export function setDatabasePoolSize(max: number): void {
  databasePoolSize.set(max);
}

/** Around each tenant transaction: it holds a pooled connection until it ends. */
export function transactionStarted(): void {
  databaseTransactions.inc();
}

export function transactionEnded(): void {
  databaseTransactions.dec();
}

/** Counts a failed transaction's driver error (domain errors thrown inside it are not the database's). */
export function databaseFailed<E>(error: E): E {
  if (error instanceof DatabaseUnavailableError) databaseErrors.inc({ kind: 'unavailable' });
  else if (!(error instanceof DomainError)) databaseErrors.inc({ kind: 'query' });
  return error;
}

export function recordKeyLookup(source: 'cache' | 'database'): void {
  authKeyLookups.inc({ source });
}

export type ReadRoute = { servedBy: 'replica' } | { servedBy: 'primary'; reason: string };

export function recordRead(route: ReadRoute): void {
  databaseReads.inc({ served_by: route.servedBy, reason: route.servedBy === 'primary' ? route.reason : '' });
}

export const REPLICA_STATES = ['ready', 'lagging', 'down', 'not_standby'] as const;

export function setReplicaHealth(
  replica: string,
  state: (typeof REPLICA_STATES)[number],
  lagMs: number | null,
): void {
  for (const s of REPLICA_STATES) replicaState.set({ replica, state: s }, s === state ? 1 : 0);
  if (lagMs === null) replicaLag.remove({ replica });
  else replicaLag.set({ replica }, lagMs / 1000);
}

// ---------------------------------------------------------------------------------------------
// Scraping

/** Whether a scrape may read the metrics: always without a token, else only with it as Bearer. */
export function scrapeAllowed(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(authorization?.replace(/^Bearer\s+/i, '') ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function scrape(): Promise<{ body: string; contentType: string }> {
  // prom-client writes NaN as "Nan" (event-loop statistics before their first sample); the text
  // format spells it "NaN", which stricter parsers than Prometheus' own insist on.
  const body = (await registry.metrics()).replace(/ Nan$/gm, ' NaN');
  return { body, contentType: registry.contentType };
}
