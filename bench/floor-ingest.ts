// Ingest for both floors (bench/floor.ts, bench/lean-floor.ts): the events the service would
// store for the bench's bodies, sealed into the tenant's chain as appendEvents seals them, and the
// parameters of the repository's batch insert. Pure functions; each floor keeps its own SQL,
// transactions and server.
import type { IncomingMessage } from 'node:http';
import type postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { GENESIS_HASH, sealEvent } from '../src/audit/chain.ts';
import type { AuditEvent, JsonObject } from '../src/audit/model.ts';

type Param = postgres.ParameterOrJSON<never>;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** A Replicated body in the canonical input shape, as the Replicated route maps it. */
export function replicatedInput(body: unknown): Record<string, unknown> {
  const b = body as Record<string, string | null | undefined>;
  return {
    action: b.action,
    name: b.name,
    title: b.title,
    description: b.description,
    ipAddress: b.ip_address,
  };
}

type Party = Record<string, string | null | undefined> | null | undefined;
const five = <K extends string>(p: Party, keys: readonly K[]) =>
  p && keys.some((k) => p[k] != null)
    ? (Object.fromEntries(keys.map((k) => [k, p[k] ?? null])) as Record<K, string | null>)
    : null;

/** The event the service would store for each input (no validation: this is the floor). */
export function toEvents(tenantId: number, inputs: Record<string, unknown>[]): AuditEvent[] {
  const now = new Date();
  return inputs.map((i) => {
    const feature = i.feature as { name: string; metas?: JsonObject } | null | undefined;
    return {
      id: uuidv7(),
      tenantId,
      sequence: 0,
      action: i.action as string,
      name: (i.name as string | null | undefined) ?? null,
      title: (i.title as string | null | undefined) ?? null,
      description: (i.description as string | null | undefined) ?? null,
      actor: five(i.actor as Party, ['id', 'email', 'name', 'type', 'company'] as const),
      groupId: (i.groupId as string | null | undefined) ?? null,
      target: five(i.target as Party, ['kind', 'id', 'name', 'email', 'company'] as const),
      additionalId: (i.additionalId as string | null | undefined) ?? null,
      feature: feature ? { name: feature.name, metas: feature.metas ?? {} } : null,
      ipAddress: (i.ipAddress as string | null | undefined) ?? null,
      occurredAt: i.occurredAt ? new Date(i.occurredAt as string) : now,
      sentAt: i.sentAt ? new Date(i.sentAt as string) : null,
      receivedAt: now,
      metadata: (i.metadata as JsonObject | undefined) ?? {},
      hash: '',
    };
  });
}

export type Cell = string | number | null;

/** An event row as the repository sends it: JSON, times and bytes as text, cast back in SQL. */
export function insertRow(e: AuditEvent, canonical: string, hash: string): Cell[] {
  const json = (v: JsonObject | null | undefined) => (v ? JSON.stringify(v) : null);
  return [
    e.tenantId,
    e.sequence,
    e.id,
    e.action,
    e.name,
    e.title,
    e.description,
    e.actor?.id ?? null,
    e.actor?.email ?? null,
    e.actor?.name ?? null,
    e.actor?.type ?? null,
    e.actor?.company ?? null,
    e.groupId,
    e.target?.kind ?? null,
    e.target?.id ?? null,
    e.target?.name ?? null,
    e.target?.email ?? null,
    e.target?.company ?? null,
    e.additionalId,
    e.feature?.name ?? null,
    json(e.feature?.metas),
    e.ipAddress,
    e.occurredAt.toISOString(),
    e.sentAt?.toISOString() ?? null,
    e.receivedAt.toISOString(),
    json(e.metadata),
    null,
    null,
    canonical,
    hash,
  ];
}

/** Rows to one array per column, the parameters of the unnest insert. */
export function columns(rows: Cell[][]): Param[] {
  return Array.from({ length: 30 }, (_, c) => rows.map((r) => r[c] ?? null) as Param);
}

/** The chain head a floor locked: its sequence number and hash. */
export type LockedHead = { seq: string; hash: Buffer };

/**
 * The events placed after `head` in order and sealed as appendEvents seals them, with the
 * parameters of the batch insert, the new head and the catalog entries (4 parameters each).
 */
export function sealBatch(tenantId: number, head: LockedHead | undefined, events: AuditEvent[]) {
  let seq = Number(head?.seq ?? 0);
  let prev = head && Number(head.seq) > 0 ? head.hash.toString('hex') : GENESIS_HASH;
  const rows: Cell[][] = [];
  const placed: AuditEvent[] = [];
  const catalog = new Map<string, Param[]>();
  for (const e of events) {
    seq += 1;
    const { hash: _, ...fields } = { ...e, sequence: seq };
    const sealed = sealEvent(fields, prev);
    prev = sealed.hash;
    placed.push({ ...fields, hash: sealed.hash });
    rows.push(insertRow(fields as AuditEvent, sealed.canonical, sealed.hash));
    const entry = [tenantId, e.target?.kind ?? '', e.action, e.actor?.type ?? ''];
    catalog.set(JSON.stringify(entry), entry);
  }
  return {
    placed,
    insert: columns(rows),
    head: [seq, Buffer.from(prev, 'hex'), tenantId] as Param[],
    catalogRows: catalog.size,
    catalog: [...catalog.values()].flat(),
  };
}

export function batchResults(stored: AuditEvent[]) {
  return stored.map((e, index) => ({ index, status: 'stored', id: e.id, sequence: e.sequence }));
}
