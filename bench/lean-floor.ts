// The lean floor, the benchmark's reference (issue 14): what any correct server must pay and no
// more. The API key is read once and then served from memory; each read is one round trip (BEGIN,
// the tenant setting, the query and COMMIT written together on one connection, postgres.js
// pipelining them); only the columns the answer needs; as the same non-owner role (audit_gateway),
// so row-level security still applies; the same JSON as the gateway, byte for byte. The same-SQL
// floor (bench/floor.ts) copies the gateway's statements and with them its waste.
//
// Run by the benchmark as a child process: FLOOR_DATABASE_URL, FLOOR_TOKEN_SECRET, FLOOR_PORT.
// Ingest (S7, S8) keeps the same chain as appendEvents (head lock, hashes, head, catalog) in two
// round trips: the head is read under its lock with BEGIN and the tenant setting, then the events,
// the head, the catalog and COMMIT go together. The Mural dump (S5) reads each keyset batch in one
// trip with only the columns of an entry.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import postgres from 'postgres';
import type { AuditEvent } from '../src/audit/model.ts';
import { uuidTime } from '../src/audit/repository/event-reads.ts';
import { TokenSigner } from '../src/audit/tokens.ts';
import { parseApiKey, secretMatches } from '../src/auth/keys.ts';
import { servingSession } from '../src/db/client.ts';
import {
  availableFilters,
  connection,
  type GraphqlRow,
  graphqlEvent,
  type MuralRow,
  muralDump,
  queryKey,
  required,
  sendJson,
  wasabiEvent,
} from './floor-answers.ts';
import {
  batchResults,
  type LockedHead,
  readJson,
  replicatedInput,
  sealBatch,
  toEvents,
} from './floor-ingest.ts';
import { FLOOR_SQL } from './floor-sql.ts';

const sql = postgres(required('FLOOR_DATABASE_URL'), {
  max: Number(process.env.FLOOR_POOL_SIZE ?? 10),
  onnotice: () => {},
  // As the gateway's sessions (role, plan cache), committing synchronously as its pool does.
  connection: { ...servingSession, application_name: 'audit-lean-floor', synchronous_commit: 'on' },
});
const tokens = new TokenSigner([required('FLOOR_TOKEN_SECRET')]);

type Param = postgres.ParameterOrJSON<never>;
type Statement = [text: string, params: Param[]];

/**
 * The statements in one transaction under the tenant's setting, sent without waiting in between:
 * one round trip. Resolves to each statement's rows.
 */
async function oneTrip<T extends object[][]>(tenantId: number, statements: Statement[]): Promise<T> {
  const c = await sql.reserve();
  try {
    const sent = [
      c.unsafe('begin'),
      c.unsafe(FLOOR_SQL.setTenant, [String(tenantId)], { prepare: true }),
      ...statements.map(([text, params]) => c.unsafe(text, params, { prepare: true })),
      c.unsafe('commit'),
    ];
    const results = await Promise.all(sent);
    return results.slice(2, -1) as unknown as T;
  } catch (error) {
    await c.unsafe('rollback').catch(() => undefined);
    throw error;
  } finally {
    c.release();
  }
}

/**
 * Appends events to the tenant's chain in two round trips on one connection: BEGIN, the tenant
 * setting and the head under its row lock; then the sealed events, the new head, the catalog and
 * COMMIT, whose answer is awaited (acknowledged means committed).
 */
async function appendChained(tenantId: number, events: AuditEvent[]): Promise<AuditEvent[]> {
  const c = await sql.reserve();
  const run = <T extends object[]>(text: string, params: Param[] = []) =>
    c.unsafe<T>(text, params, { prepare: params.length > 0 }) as unknown as Promise<T>;
  try {
    let [, , [head]] = await Promise.all([
      run('begin'),
      run(FLOOR_SQL.setTenant, [String(tenantId)]),
      run<LockedHead[]>(FLOOR_SQL.lockHead, [tenantId]),
    ]);
    if (!head) {
      await run(FLOOR_SQL.createHead, [tenantId, 0, Buffer.alloc(32)]);
      [head] = await run<LockedHead[]>(FLOOR_SQL.lockHead, [tenantId]);
    }
    const sealed = sealBatch(tenantId, head, events);
    await Promise.all([
      run(FLOOR_SQL.insertEvents, sealed.insert),
      run(FLOOR_SQL.updateHead, sealed.head),
      run(FLOOR_SQL.insertCatalog(sealed.catalogRows), sealed.catalog),
      run('commit'),
    ]);
    return sealed.placed;
  } catch (error) {
    await c.unsafe('rollback').catch(() => undefined);
    throw error;
  } finally {
    c.release();
  }
}

/** Keys read once, then from memory for a while (a revoked key stops working within KEY_TTL_MS). */
const KEY_TTL_MS = 30_000;
const keyCache = new Map<string, { tenantId: number | null; until: number }>();

async function authenticate(req: IncomingMessage): Promise<number | null> {
  const header = req.headers.authorization ?? '';
  const hit = keyCache.get(header);
  if (hit && hit.until > Date.now()) return hit.tenantId;
  const parsed = header.startsWith('Bearer ') ? parseApiKey(header.slice(7).trim()) : null;
  if (!parsed) return null;
  const [key] = await sql.unsafe<{ tenant_id: number; secret_hash: Buffer; revoked_at: Date | null }[]>(
    'select tenant_id, secret_hash, revoked_at from api_keys where id = $1',
    [parsed.id],
    { prepare: true },
  );
  const tenantId =
    key && !key.revoked_at && secretMatches(parsed.secret, key.secret_hash) ? key.tenant_id : null;
  keyCache.set(header, { tenantId, until: Date.now() + KEY_TTL_MS });
  return tenantId;
}

// ---------------------------------------------------------------------------------------------
// Only what each answer shows

/** What the GraphQL selection (scenarios.ts EVENT_FIELDS) reads. */
const GRAPHQL_COLUMNS =
  'id, seq, action, occurred_at, actor_id, actor_email, actor_name, actor_type, actor_company, group_id, ' +
  'target_kind, target_id, target_name, target_email, target_company, ip_address, metadata, hash';
/** What a Mural entry shows (floor-answers.ts muralEntry). */
const MURAL_COLUMNS =
  'id, action, actor_id, actor_email, actor_name, actor_type, actor_company, target_kind, target_id, ' +
  'target_name, target_email, target_company, ip_address, occurred_at';
const NEWEST_FIRST = 'order by occurred_at desc, id desc';

const LEAN_SQL = {
  s1:
    `select ${GRAPHQL_COLUMNS} from audit_events where tenant_id = $1 and occurred_at >= $2 and ` +
    `occurred_at < $3 and action = any($4::text[]) ${NEWEST_FIRST} limit $5`,
  s2:
    `select ${GRAPHQL_COLUMNS} from audit_events where tenant_id = $1 and ` +
    `(occurred_at, id) < ($2::timestamptz, $3::uuid) ${NEWEST_FIRST} limit $4`,
  // Each id around the time its UUIDv7 carries, as the gateway asks (one month's key per id on the
  // partitioned table; the gateway looks again everywhere for an id this misses, which the
  // benchmark's ids never are).
  s3:
    `select ${GRAPHQL_COLUMNS.split(', ')
      .map((c) => `e.${c}`)
      .join(', ')} from unnest($2::uuid[], $3::timestamptz[]) w(id, at) join audit_events e ` +
    "on e.tenant_id = $1 and e.id = w.id and e.received_at between w.at - interval '1 day' and w.at + interval '1 day'",
  s4Catalog: 'select target_kind, action, actor_type from audit_catalog where tenant_id = $1',
  s4Range:
    'select (select occurred_at from audit_events where tenant_id = $1 order by occurred_at asc limit 1) as earliest, ' +
    '(select occurred_at from audit_events where tenant_id = $1 order by occurred_at desc limit 1) as latest',
  s6Page:
    'select id, actor_id, action, target_kind, target_id, occurred_at from audit_events where tenant_id = $1 ' +
    'order by occurred_at asc, id asc limit $2 offset $3',
  s6Count: 'select coalesce(max(seq) - min(seq) + 1, 0) as count from audit_events where tenant_id = $1',
  s5Window:
    `select ${MURAL_COLUMNS} from audit_events where tenant_id = $1 and occurred_at >= $2 and occurred_at < $3 ` +
    `${NEWEST_FIRST} limit $4`,
  s5WindowAfter:
    `select ${MURAL_COLUMNS} from audit_events where tenant_id = $1 and occurred_at >= $2 and occurred_at < $3 ` +
    `and (occurred_at, id) < ($4::timestamptz, $5::uuid) ${NEWEST_FIRST} limit $6`,
};

type Handler = (tenantId: number, url: URL, res: ServerResponse, req: IncomingMessage) => Promise<void>;

const handlers: Record<string, Handler> = {
  async '/s1'(tenantId, url, res) {
    const first = Number(url.searchParams.get('first') ?? 50);
    const since = new Date(url.searchParams.get('since') as string);
    const until = new Date(url.searchParams.get('until') as string);
    const actions = url.searchParams.getAll('action');
    const [rows] = await oneTrip<[GraphqlRow[]]>(tenantId, [
      [LEAN_SQL.s1, [tenantId, since.toISOString(), until.toISOString(), actions, first + 1]],
    ]);
    const q = queryKey({ since, until, actions });
    sendJson(res, 200, { data: { auditEvents: connection(tokens, tenantId, q, rows, first) } });
  },

  async '/s2'(tenantId, url, res) {
    const first = Number(url.searchParams.get('first') ?? 50);
    const q = queryKey({});
    const cursor = tokens.verify('cursor', tenantId, url.searchParams.get('after') ?? '') as {
      q: string;
      t: number;
      i: string;
    } | null;
    if (!cursor || cursor.q !== q) return sendJson(res, 400, { error: 'bad cursor' });
    const [rows] = await oneTrip<[GraphqlRow[]]>(tenantId, [
      [LEAN_SQL.s2, [tenantId, new Date(cursor.t).toISOString(), cursor.i, first + 1]],
    ]);
    sendJson(res, 200, { data: { auditEvents: connection(tokens, tenantId, q, rows, first) } });
  },

  async '/s3'(tenantId, url, res) {
    const ids = (url.searchParams.get('ids') ?? '').split(',');
    const unique = [...new Set(ids)];
    const [rows] = await oneTrip<[GraphqlRow[]]>(tenantId, [
      [LEAN_SQL.s3, [tenantId, unique, unique.map(uuidTime)] as Param[]],
    ]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    sendJson(res, 200, {
      data: {
        nodes: ids.map((id) => {
          const r = byId.get(id);
          return r ? graphqlEvent(r) : null;
        }),
      },
    });
  },

  async '/s4'(tenantId, _url, res) {
    type Entry = { target_kind: string; action: string; actor_type: string };
    const [entries, [range]] = await oneTrip<[Entry[], { earliest: Date | null; latest: Date | null }[]]>(
      tenantId,
      [
        [LEAN_SQL.s4Catalog, [tenantId]],
        [LEAN_SQL.s4Range, [tenantId]],
      ],
    );
    sendJson(res, 200, availableFilters(entries, range?.earliest ?? null, range?.latest ?? null));
  },

  async '/s6'(tenantId, url, res) {
    const count = Number(url.searchParams.get('count') ?? 20);
    const page = Number(url.searchParams.get('page') ?? 0);
    type WasabiRow = Pick<
      GraphqlRow,
      'id' | 'actor_id' | 'action' | 'target_kind' | 'target_id' | 'occurred_at'
    >;
    const [rows, [total]] = await oneTrip<[WasabiRow[], { count: string }[]]>(tenantId, [
      [LEAN_SQL.s6Page, [tenantId, count, page * count]],
      [LEAN_SQL.s6Count, [tenantId]],
    ]);
    sendJson(res, 200, { audit_events: rows.map(wasabiEvent), total: Number(total?.count ?? 0), page });
  },

  async '/s5'(tenantId, url, res) {
    await muralDump(tokens, tenantId, url, res, async (since, until, after, limit) => {
      const [rows] = await oneTrip<[MuralRow[]]>(tenantId, [
        after
          ? [LEAN_SQL.s5WindowAfter, [tenantId, since, until, after.t, after.i, limit]]
          : [LEAN_SQL.s5Window, [tenantId, since, until, limit]],
      ]);
      return rows;
    });
  },

  /** S7: one Replicated event, chained. */
  async '/s7'(tenantId, _url, res, req) {
    await appendChained(tenantId, toEvents(tenantId, [replicatedInput(await readJson(req))]));
    res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
    res.end();
  },

  /** S8: a batch, chained. */
  async '/s8'(tenantId, _url, res, req) {
    const { events } = (await readJson(req)) as { events: Record<string, unknown>[] };
    sendJson(res, 200, { results: batchResults(await appendChained(tenantId, toEvents(tenantId, events))) });
  },
};

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://lean-floor');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    const handler = handlers[url.pathname];
    if (!handler) return sendJson(res, 404, { error: 'not_found' });
    const tenantId = await authenticate(req);
    if (tenantId === null) return sendJson(res, 401, { error: 'unauthenticated' });
    await handler(tenantId, url, res, req);
  } catch (error) {
    process.stderr.write(
      `lean floor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.FLOOR_PORT ?? 0), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void sql.end({ timeout: 5 }).then(() => process.exit(0));
  });
}
