// The JSON both floors (bench/floor.ts, bench/lean-floor.ts) answer with: the same bytes the
// gateway sends for the bench's operations, built from rows by hand. Pure functions only; each
// floor keeps its own SQL and its own server.
import { createHash } from 'node:crypto';
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
