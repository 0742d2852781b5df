// The floor the gateway is measured against: the gateway's own SQL (same statements, same
// tenant transaction with set_config, same API key lookup, as the same role), run by postgres.js
// with prepared statements behind a bare node:http handler that builds the same JSON with
// JSON.stringify. No framework, no GraphQL, no validation: what any server answering these
// requests must at least do. One handler per scenario; ingest has a plain variant (one INSERT,
// no chain) and a chained one (the repository's head lock, hash and head update).
//
// Run by the benchmark as a child process: FLOOR_DATABASE_URL, FLOOR_TOKEN_SECRET, FLOOR_PORT.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import postgres from 'postgres';
import type { AuditEvent, JsonObject } from '../src/audit/model.ts';
import { hexTokenEnds, uuidTime } from '../src/audit/repository/event-reads.ts';
import { TokenSigner } from '../src/audit/tokens.ts';
import { parseApiKey, secretMatches } from '../src/auth/keys.ts';
import { servingSession } from '../src/db/client.ts';
import {
  availableFilters,
  connection,
  graphqlEvent,
  muralDump,
  queryKey,
  required,
  sendJson,
  wasabiEvent,
} from './floor-answers.ts';
import {
  batchResults,
  columns,
  insertRow,
  type LockedHead,
  readJson,
  replicatedInput,
  sealBatch,
  toEvents,
} from './floor-ingest.ts';
import { FLOOR_SQL as SQL } from './floor-sql.ts';

// ---------------------------------------------------------------------------------------------
// Database

const sql = postgres(required('FLOOR_DATABASE_URL'), {
  max: Number(process.env.FLOOR_POOL_SIZE ?? 10),
  onnotice: () => {},
  // As the gateway's sessions (role, plan cache), committing synchronously as its pool does.
  connection: { ...servingSession, application_name: 'audit-floor', synchronous_commit: 'on' },
});
const tokens = new TokenSigner([required('FLOOR_TOKEN_SECRET')]);
/** The gateway's default SEARCH_TIMEOUT_MS, which the bench does not change. */
const SEARCH_TIMEOUT_MS = 10_000;

type Param = postgres.ParameterOrJSON<never>;
type Runner = Pick<postgres.Sql, 'unsafe'>;

function run<T extends object>(db: Runner, text: string, params: Param[]): Promise<T[]> {
  return db.unsafe<T[]>(text, params, { prepare: true }) as unknown as Promise<T[]>;
}

async function inTenant<T>(tenantId: number, fn: (tx: Runner) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await run(tx, SQL.setTenant, [String(tenantId)]);
    return fn(tx);
  })) as T;
}

type EventRow = {
  id: string;
  tenant_id: number;
  seq: string;
  action: string;
  name: string | null;
  title: string | null;
  description: string | null;
  actor_id: string | null;
  actor_email: string | null;
  actor_name: string | null;
  actor_type: string | null;
  actor_company: string | null;
  group_id: string | null;
  target_kind: string | null;
  target_id: string | null;
  target_name: string | null;
  target_email: string | null;
  target_company: string | null;
  additional_id: string | null;
  feature_name: string | null;
  feature_metas: JsonObject | null;
  ip_address: string | null;
  occurred_at: Date;
  sent_at: Date | null;
  received_at: Date;
  metadata: JsonObject;
  hash: Buffer;
};

/** The tenant of a valid, live API key (the gateway's lookup), or null. */
async function authenticate(req: IncomingMessage): Promise<number | null> {
  const header = req.headers.authorization ?? '';
  const parsed = header.startsWith('Bearer ') ? parseApiKey(header.slice(7).trim()) : null;
  if (!parsed) return null;
  const [key] = await run<{ tenant_id: number; secret_hash: Buffer; revoked_at: Date | null }>(
    sql,
    SQL.apiKey,
    [parsed.id],
  );
  return key && !key.revoked_at && secretMatches(parsed.secret, key.secret_hash) ? key.tenant_id : null;
}

// ---------------------------------------------------------------------------------------------
// Handlers, one per scenario

type Handler = (tenantId: number, url: URL, req: IncomingMessage, res: ServerResponse) => Promise<void>;

const EXPORT_BATCH = 2000;

/** An export's frame: the head it stops at (read under the lock the gateway's checkpoint takes), then NDJSON rows. */
async function exportFloor(
  tenantId: number,
  res: ServerResponse,
  body: (through: number, write: (rows: object[]) => Promise<void>) => Promise<void>,
): Promise<void> {
  const [head] = await inTenant(tenantId, (tx) => run<{ seq: string }>(tx, SQL.lockHead, [tenantId]));
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  await body(Number(head?.seq ?? 0), async (rows) => {
    if (rows.length === 0) return;
    if (!res.write(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`)) await once(res, 'drain');
  });
  res.end('{"type":"end"}\n');
}

const handlers: Record<string, Handler> = {
  /** S1: a filtered page. */
  async '/s1'(tenantId, url, _req, res) {
    const first = Number(url.searchParams.get('first') ?? 50);
    const since = new Date(url.searchParams.get('since') as string);
    const until = new Date(url.searchParams.get('until') as string);
    const actions = url.searchParams.getAll('action');
    const rows = await inTenant(tenantId, (tx) =>
      run<EventRow>(tx, SQL.byActionInWindow, [
        tenantId,
        since.toISOString(),
        until.toISOString(),
        actions,
        first + 1,
      ]),
    );
    const q = queryKey({ since, until, actions });
    sendJson(res, 200, { data: { auditEvents: connection(tokens, tenantId, q, rows, first) } });
  },

  /** Q1, Q2: the first page of filter.search, newest first, under the gateway's default bound. */
  async '/q'(tenantId, url, _req, res) {
    const first = Number(url.searchParams.get('first') ?? 50);
    const search = url.searchParams.get('search') as string;
    const rows = await inTenant(tenantId, async (tx) => {
      await run(tx, SQL.searchBound, [String(SEARCH_TIMEOUT_MS)]);
      const ends = hexTokenEnds(search);
      return ends
        ? run<EventRow>(tx, SQL.searchHexToken, [tenantId, ends[0], ends[1], search, first + 1])
        : run<EventRow>(tx, SQL.search, [tenantId, search, first + 1]);
    });
    sendJson(res, 200, {
      data: { auditEvents: connection(tokens, tenantId, queryKey({ search }), rows, first) },
    });
  },

  /** S2: a page after a cursor, unfiltered. */
  async '/s2'(tenantId, url, _req, res) {
    const first = Number(url.searchParams.get('first') ?? 50);
    const q = queryKey({});
    const cursor = tokens.verify('cursor', tenantId, url.searchParams.get('after') ?? '') as {
      q: string;
      t: number;
      i: string;
    } | null;
    if (!cursor || cursor.q !== q) return sendJson(res, 400, { error: 'bad cursor' });
    const rows = await inTenant(tenantId, (tx) =>
      run<EventRow>(tx, SQL.afterCursor, [tenantId, new Date(cursor.t).toISOString(), cursor.i, first + 1]),
    );
    sendJson(res, 200, { data: { auditEvents: connection(tokens, tenantId, q, rows, first) } });
  },

  /** S3: events by id, in the order asked, null where missing. */
  async '/s3'(tenantId, url, _req, res) {
    const ids = (url.searchParams.get('ids') ?? '').split(',');
    const unique = [...new Set(ids)];
    const rows = await inTenant(tenantId, (tx) =>
      run<EventRow>(tx, SQL.byIds, [unique, unique.map(uuidTime), tenantId]),
    );
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

  /** S4: availableFilters from the catalog and two index probes. */
  async '/s4'(tenantId, _url, _req, res) {
    const { entries, first, last } = await inTenant(tenantId, async (tx) => ({
      entries: await run<{ target_kind: string; action: string; actor_type: string }>(tx, SQL.catalog, [
        tenantId,
      ]),
      first: await run<{ occurred_at: Date }>(tx, SQL.earliest, [tenantId, 1]),
      last: await run<{ occurred_at: Date }>(tx, SQL.latest, [tenantId, 1]),
    }));
    sendJson(
      res,
      200,
      availableFilters(entries, first[0]?.occurred_at ?? null, last[0]?.occurred_at ?? null),
    );
  },

  /** S5: the Mural dump, streamed in the gateway's keyset batches, every column read. */
  async '/s5'(tenantId, url, _req, res) {
    await muralDump(tokens, tenantId, url, res, (since, until, after, limit) =>
      inTenant(tenantId, (tx) =>
        after
          ? run<EventRow>(tx, SQL.windowAfter, [tenantId, since, until, after.t, after.i, limit])
          : run<EventRow>(tx, SQL.window, [tenantId, since, until, limit]),
      ),
    );
  },

  /** E1: the NDJSON export's SQL (head, first match, the walk), each row as JSON.stringify writes it. */
  async '/e1-ndjson'(tenantId, _url, _req, res) {
    await exportFloor(tenantId, res, async (through, write) => {
      const [first] = await inTenant(tenantId, (tx) =>
        run<{ seq: string }>(tx, SQL.exportFirstMatch, [tenantId, 0, through, 1]),
      );
      if (!first) return;
      let after = Number(first.seq) - 1;
      for (;;) {
        const rows = await inTenant(tenantId, (tx) =>
          run<{ seq: string; hash: Buffer; canonical: string; '?column?': boolean }>(tx, SQL.exportWalk, [
            tenantId,
            tenantId,
            after,
            through,
            EXPORT_BATCH,
          ]),
        );
        await write(
          rows.map((r) => ({ seq: Number(r.seq), hash: r.hash.toString('hex'), canonical: r.canonical })),
        );
        if (rows.length < EXPORT_BATCH) return;
        after = Number(rows.at(-1)?.seq);
      }
    });
  },

  /** E1: the CSV export's SQL (head, the matching events), each row as JSON.stringify writes it. */
  async '/e1-csv'(tenantId, _url, _req, res) {
    await exportFloor(tenantId, res, async (through, write) => {
      let after = 0;
      for (;;) {
        const rows = await inTenant(tenantId, (tx) =>
          run<EventRow>(tx, SQL.exportEvents, [tenantId, after, through, EXPORT_BATCH]),
        );
        // The hash as hex, as the CSV has it: JSON.stringify would spell a Buffer out byte by byte.
        for (const r of rows) (r as unknown as { hash: string }).hash = r.hash.toString('hex');
        await write(rows);
        if (rows.length < EXPORT_BATCH) return;
        after = Number(rows.at(-1)?.seq);
      }
    });
  },

  /** S6: an OFFSET page and the exact total, in two transactions at once as the service does. */
  async '/s6'(tenantId, url, _req, res) {
    const count = Number(url.searchParams.get('count') ?? 20);
    const page = Number(url.searchParams.get('page') ?? 0);
    const [rows, [total]] = await Promise.all([
      inTenant(tenantId, (tx) => run<EventRow>(tx, SQL.offsetPage, [tenantId, count, page * count])),
      inTenant(tenantId, (tx) => run<{ coalesce: string }>(tx, SQL.count, [tenantId])),
    ]);
    sendJson(res, 200, { audit_events: rows.map(wasabiEvent), total: Number(total?.coalesce ?? 0), page });
  },

  /** C1: a daily histogram by the plain GROUP BY, empty days included. */
  async '/c1'(tenantId, url, _req, res) {
    const p = url.searchParams;
    const rows = await inTenant(tenantId, (tx) =>
      run<{ b: Date; n: string }>(tx, SQL.dailyHistogram, [
        tenantId,
        p.get('since') as string,
        p.get('until') as string,
        [p.get('action') as string],
        p.get('timeZone') as string,
      ]),
    );
    const buckets = rows.map((r) => ({ start: r.b.toISOString(), count: Number(r.n) }));
    const total = buckets.reduce((sum, b) => sum + b.count, 0);
    sendJson(res, 200, { data: { auditEventCounts: { total, buckets } } });
  },

  /** C2: the top actors by the plain GROUP BY; the rest is the total minus theirs. */
  async '/c2'(tenantId, url, _req, res) {
    const p = url.searchParams;
    const first = Number(p.get('first') ?? 10);
    const rows = await inTenant(tenantId, (tx) =>
      run<{ a: string; n: string; total: string; groups: string }>(tx, SQL.topActors, [
        tenantId,
        p.get('since') as string,
        p.get('until') as string,
        first,
      ]),
    );
    const groups = rows.map((r) => ({ key: { actorId: r.a || null }, count: Number(r.n) }));
    const total = Number(rows[0]?.total ?? 0);
    sendJson(res, 200, {
      data: {
        auditEventCounts: {
          total,
          other: total - groups.reduce((sum, g) => sum + g.count, 0),
          otherGroups: Math.max(0, Number(rows[0]?.groups ?? 0) - groups.length),
          groups,
        },
      },
    });
  },

  /** S7 floor: one plain INSERT, no chain. */
  async '/s7'(tenantId, _url, req, res) {
    await insertPlain(tenantId, toEvents(tenantId, [replicatedInput(await readJson(req))]));
    res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
    res.end();
  },

  /** S7 with the chain: head lock, hash, insert, head update, catalog, as appendEvents does. */
  async '/s7-chain'(tenantId, _url, req, res) {
    await insertChained(tenantId, toEvents(tenantId, [replicatedInput(await readJson(req))]));
    res.writeHead(201, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 0 });
    res.end();
  },

  /** S8 floor: one multi-row INSERT per batch, no chain. */
  async '/s8'(tenantId, _url, req, res) {
    const { events } = (await readJson(req)) as { events: Record<string, unknown>[] };
    const stored = await insertPlain(tenantId, toEvents(tenantId, events));
    sendJson(res, 200, { results: batchResults(stored) });
  },

  /** S8 with the chain. */
  async '/s8-chain'(tenantId, _url, req, res) {
    const { events } = (await readJson(req)) as { events: Record<string, unknown>[] };
    const stored = await insertChained(tenantId, toEvents(tenantId, events));
    sendJson(res, 200, { results: batchResults(stored) });
  },
};

// ---------------------------------------------------------------------------------------------
// Ingest

/** Sequence numbers for the plain floor, which keeps no chain head: taken from memory. */
const nextSeq = new Map<number, Promise<{ value: number }>>();

async function insertPlain(tenantId: number, events: AuditEvent[]): Promise<AuditEvent[]> {
  let counter = nextSeq.get(tenantId);
  if (!counter) {
    counter = inTenant(tenantId, (tx) => run<{ seq: string }>(tx, SQL.maxSeq, [tenantId])).then(([r]) => ({
      value: Number(r?.seq ?? 0),
    }));
    nextSeq.set(tenantId, counter);
  }
  const seq = await counter;
  const zero = '00'.repeat(32);
  const placed = events.map((e) => {
    seq.value += 1;
    return { ...e, sequence: seq.value };
  });
  await inTenant(tenantId, (tx) =>
    run(tx, SQL.insertEvents, columns(placed.map((e) => insertRow(e, JSON.stringify(e), zero)))),
  );
  return placed;
}

async function insertChained(tenantId: number, events: AuditEvent[]): Promise<AuditEvent[]> {
  return inTenant(tenantId, async (tx) => {
    let [head] = await run<LockedHead>(tx, SQL.lockHead, [tenantId]);
    if (!head) {
      await run(tx, SQL.createHead, [tenantId, 0, Buffer.alloc(32)]);
      [head] = await run<LockedHead>(tx, SQL.lockHead, [tenantId]);
    }
    const sealed = sealBatch(tenantId, head, events);
    await run(tx, SQL.insertEvents, sealed.insert);
    await run(tx, SQL.updateHead, sealed.head);
    await run(tx, SQL.insertCatalog(sealed.catalogRows), sealed.catalog);
    return sealed.placed;
  });
}

// ---------------------------------------------------------------------------------------------
// Server

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? '/', 'http://floor');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    const handler = handlers[url.pathname];
    if (!handler) return sendJson(res, 404, { error: 'not_found' });
    const tenantId = await authenticate(req);
    if (tenantId === null) return sendJson(res, 401, { error: 'unauthenticated' });
    await handler(tenantId, url, req, res);
  } catch (error) {
    process.stderr.write(
      `floor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.FLOOR_PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
    void sql.end({ timeout: 5 }).then(() => process.exit(0));
  });
}
