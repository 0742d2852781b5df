// The JSON both floors (bench/floor.ts, bench/lean-floor.ts) answer with: the same bytes the
// gateway sends for the bench's operations, built from rows by hand. Pure functions only; each
// floor keeps its own SQL and its own server.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import canonicalize from 'canonicalize';
import type { JsonObject } from '../src/audit/model.ts';
import type { TokenSigner } from '../src/audit/tokens.ts';

/** The columns of the bench's GraphQL selection (scenarios.ts EVENT_FIELDS). */
export type GraphqlRow = {
  id: string;
  seq: string;
  action: string;
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
  ip_address: string | null;
  occurred_at: Date;
  metadata: JsonObject;
  hash: Buffer;
};

const hasAny = (...xs: (string | null)[]) => xs.some((x) => x !== null);

/** The GraphQL selection the benchmark asks for (scenarios.ts EVENT_FIELDS), field for field. */
export function graphqlEvent(r: GraphqlRow) {
  return {
    id: r.id,
    sequence: Number(r.seq),
    action: r.action,
    occurredAt: r.occurred_at.toISOString(),
    actor: hasAny(r.actor_id, r.actor_email, r.actor_name, r.actor_type, r.actor_company)
      ? { id: r.actor_id, email: r.actor_email, name: r.actor_name, type: r.actor_type }
      : null,
    target: hasAny(r.target_kind, r.target_id, r.target_name, r.target_email, r.target_company)
      ? { kind: r.target_kind, id: r.target_id, name: r.target_name }
      : null,
    groupId: r.group_id,
    ipAddress: r.ip_address,
    metadata: r.metadata,
    hash: r.hash.toString('hex'),
  };
}

/** What the service binds a cursor to: a hash of the filter and the (default) order. */
export function queryKey(filter: Record<string, unknown>): string {
  const text = canonicalize({ filter, order: { field: 'occurredAt', direction: 'desc' } }) ?? '';
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

/** A connection page of `first` rows (one more was read to learn whether a next page exists). */
export function connection(
  tokens: TokenSigner,
  tenantId: number,
  q: string,
  rows: GraphqlRow[],
  first: number,
) {
  const edges = rows.slice(0, first).map((r) => ({
    cursor: tokens.sign('cursor', tenantId, { q, k: null, t: r.occurred_at.getTime(), i: r.id }),
    node: graphqlEvent(r),
  }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}

type CatalogEntry = { target_kind: string; action: string; actor_type: string };

/** `availableFilters` from the catalog's rows and the tenant's first and last occurrence times. */
export function availableFilters(entries: CatalogEntry[], earliest: Date | null, latest: Date | null) {
  const actions = new Set<string>();
  const kinds = new Map<string, Set<string>>();
  const actorTypes = new Set<string>();
  for (const e of entries) {
    actions.add(e.action);
    if (e.actor_type) actorTypes.add(e.actor_type);
    if (!e.target_kind) continue;
    const set = kinds.get(e.target_kind) ?? new Set<string>();
    set.add(e.action);
    kinds.set(e.target_kind, set);
  }
  const sorted = (s: Iterable<string>) => [...s].sort();
  return {
    data: {
      availableFilters: {
        actions: sorted(actions),
        targetKinds: sorted(kinds.keys()).map((name) => ({ name, actions: sorted(kinds.get(name) ?? []) })),
        actorTypes: sorted(actorTypes),
        timeRange: { earliest: earliest?.toISOString() ?? null, latest: latest?.toISOString() ?? null },
      },
    },
  };
}

/** One Wasabi event, as src/rest/wasabi.ts shapes it. */
export function wasabiEvent(
  r: Pick<GraphqlRow, 'id' | 'actor_id' | 'action' | 'target_kind' | 'target_id' | 'occurred_at'>,
) {
  return {
    id: r.id,
    user_id: r.actor_id,
    action_key: r.action,
    target_kind: r.target_kind,
    target_id: r.target_id,
    time: r.occurred_at.toISOString(),
  };
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** An environment variable the floor cannot run without. */
export function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** A Mural row: the columns of an entry (src/rest/mural.ts). */
export type MuralRow = Pick<
  GraphqlRow,
  | 'id'
  | 'action'
  | 'actor_id'
  | 'actor_email'
  | 'actor_name'
  | 'actor_type'
  | 'actor_company'
  | 'target_kind'
  | 'target_id'
  | 'target_name'
  | 'target_email'
  | 'target_company'
  | 'ip_address'
  | 'occurred_at'
>;

const DAY_MS = 86_400_000;
/** Rows per read while streaming a Mural dump, as MURAL.batchSize in src/rest/mural.ts. */
const MURAL_BATCH = 1000;

function muralEntry(r: MuralRow) {
  const day = Math.floor(r.occurred_at.getTime() / DAY_MS) * DAY_MS;
  return {
    action: r.action,
    actor: {
      company: r.actor_company,
      email: r.actor_email,
      id: r.actor_id,
      name: r.actor_name,
      type: r.actor_type,
    },
    date: r.occurred_at.toISOString(),
    id: r.id,
    ip: r.ip_address,
    snapshotDate: new Date(day + DAY_MS - 1).toISOString(),
    affected: {
      company: r.target_company,
      email: r.target_email,
      id: r.target_id,
      name: r.target_name,
      type: r.target_kind,
    },
  };
}

/** Reads up to `limit` rows of the window newest first, after a position when one is given. */
export type MuralBatch = (
  since: string,
  until: string,
  after: { t: string; i: string } | null,
  limit: number,
) => Promise<MuralRow[]>;

/**
 * The Mural dump (S5) as the gateway streams it: keyset batches of the window, `maxResults`
 * entries, and a signed nextToken when more remain. Each floor reads the batches its own way.
 */
export async function muralDump(
  tokens: TokenSigner,
  tenantId: number,
  url: URL,
  res: ServerResponse,
  read: MuralBatch,
): Promise<void> {
  const maxResults = Number(url.searchParams.get('maxResults') ?? 50_000);
  const nextToken = url.searchParams.get('nextToken');
  type MuralToken = { s: number; u: number; a: null; t: number; i: string };
  let query: { s: number; u: number; a: null };
  let after: { t: number; i: string } | null = null;
  if (nextToken) {
    const token = tokens.verify('continuation', tenantId, nextToken) as MuralToken | null;
    if (!token) return sendJson(res, 400, { error: 'bad token' });
    query = { s: token.s, u: token.u, a: null };
    after = { t: token.t, i: token.i };
  } else {
    // A date-time `until` is inclusive to the millisecond, as the gateway reads it.
    const since = Date.parse(url.searchParams.get('since') as string);
    const until = Date.parse(url.searchParams.get('until') as string) + 1;
    query = { s: since, u: until, a: null };
  }
  const since = new Date(query.s).toISOString();
  const until = new Date(query.u).toISOString();
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.write('{"data":[');
  let written = 0;
  let remaining = maxResults + 1;
  let last: MuralRow | undefined;
  let more = false;
  while (remaining > 0) {
    const limit = Math.min(MURAL_BATCH, remaining);
    const rows = await read(since, until, after && { t: new Date(after.t).toISOString(), i: after.i }, limit);
    remaining -= rows.length;
    const room = maxResults - written;
    const take = rows.length > room ? rows.slice(0, room) : rows;
    if (rows.length > room) more = true;
    if (take.length > 0) {
      const chunk = take.map((r) => JSON.stringify(muralEntry(r))).join(',');
      if (!res.write(written > 0 ? `,${chunk}` : chunk)) await once(res, 'drain');
      written += take.length;
      last = take.at(-1);
    }
    if (more || rows.length < limit) break;
    const end = rows.at(-1) as MuralRow;
    after = { t: end.occurred_at.getTime(), i: end.id };
  }
  if (more && last) {
    const token: MuralToken = { ...query, t: last.occurred_at.getTime(), i: last.id };
    res.end(`],"nextToken":${JSON.stringify(tokens.sign('continuation', tenantId, token))}}`);
  } else {
    res.end(']}');
  }
}
