// The only module that builds SQL. Every function takes the database handle first and the
// tenant second, and runs inside a transaction that sets the tenant for row-level security,
// so a query can never see another tenant's rows even if its WHERE clause forgot to ask.
import { and, asc, desc, eq, gt, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { classifyDatabaseError } from '../db/errors.ts';
import { auditCatalog, auditEvents, chainCheckpoints, chainHeads } from '../db/schema.ts';
import { databaseFailed, transactionEnded, transactionStarted } from '../metrics.ts';
import { type AuditEvent, isUuid, type JsonObject } from './model.ts';
import type { SignedStatement } from './signer.ts';
import type { Restriction } from './viewer.ts';

export type EventFilter = {
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  actions?: string[] | undefined;
  actorIds?: string[] | undefined;
  actorEmails?: string[] | undefined;
  targetKinds?: string[] | undefined;
  targetIds?: string[] | undefined;
  groupIds?: string[] | undefined;
  ipAddresses?: string[] | undefined;
};

export type OrderField = 'occurredAt' | 'actor' | 'action' | 'targetKind' | 'group';
export type Direction = 'asc' | 'desc';
export type EventOrder = { field: OrderField; direction: Direction };

/** Where a keyset page starts: the sort key (null when ordering by time), the time and the id. */
export type Position = { key: string | null; at: Date; id: string };

const t = auditEvents;

/** SQL for the value an order sorts by; absent values sort as the empty string. */
function sortExpression(field: OrderField): SQL | null {
  switch (field) {
    case 'occurredAt':
      return null;
    case 'action':
      return sql`${t.action}`;
    case 'actor':
      return sql`coalesce(${t.actorId}, '')`;
    case 'targetKind':
      return sql`coalesce(${t.targetKind}, '')`;
    case 'group':
      return sql`coalesce(${t.groupId}, '')`;
  }
}

/** The sort key of an event under an order, as stored in a cursor. */
export function positionOf(event: AuditEvent, field: OrderField): Position {
  const key =
    field === 'occurredAt'
      ? null
      : field === 'action'
        ? event.action
        : field === 'actor'
          ? (event.actor?.id ?? '')
          : field === 'targetKind'
            ? (event.target?.kind ?? '')
            : (event.groupId ?? '');
  return { key, at: event.occurredAt, id: event.id };
}

const textArray = (values: string[]) => sql`${sql.param(values)}::text[]`;

function filterConditions(tenantId: number, f: EventFilter, restriction?: Restriction): SQL[] {
  const where: SQL[] = [eq(t.tenantId, tenantId)];
  if (f.since) where.push(gte(t.occurredAt, f.since));
  if (f.until) where.push(lt(t.occurredAt, f.until));
  if (f.actions?.length) where.push(sql`${t.action} = any(${textArray(f.actions)})`);
  // The coalesce() forms match the expression indexes that also serve ordering.
  if (f.actorIds?.length) where.push(sql`coalesce(${t.actorId}, '') = any(${textArray(f.actorIds)})`);
  if (f.targetKinds?.length)
    where.push(sql`coalesce(${t.targetKind}, '') = any(${textArray(f.targetKinds)})`);
  if (f.groupIds?.length) where.push(sql`coalesce(${t.groupId}, '') = any(${textArray(f.groupIds)})`);
  if (f.actorEmails?.length) where.push(sql`${t.actorEmail} = any(${textArray(f.actorEmails)})`);
  if (f.targetIds?.length) where.push(sql`${t.targetId} = any(${textArray(f.targetIds)})`);
  if (f.ipAddresses?.length) where.push(sql`${t.ipAddress} = any(${textArray(f.ipAddresses)})`);
  if (restriction) where.push(...restrictionConditions(restriction));
  return where;
}

/**
 * A viewer's slice, ANDed into every read. Unlike a filter, where an empty list means "no
 * condition", an empty list here matches nothing: a restriction can only take events away.
 */
function restrictionConditions(r: Restriction): SQL[] {
  const any = (column: SQL, values: readonly string[]) =>
    values.length === 0 ? sql`false` : sql`${column} = any(${textArray([...values])})`;
  const where: SQL[] = [];
  if (r.actions) where.push(any(sql`${t.action}`, r.actions));
  if (r.actorIds) where.push(any(sql`coalesce(${t.actorId}, '')`, r.actorIds));
  if (r.targetIds) where.push(any(sql`${t.targetId}`, r.targetIds));
  if (r.groupIds) where.push(any(sql`coalesce(${t.groupId}, '')`, r.groupIds));
  return where;
}

const eventColumns = {
  id: t.id,
  tenantId: t.tenantId,
  seq: t.seq,
  action: t.action,
  name: t.name,
  title: t.title,
  description: t.description,
  actorId: t.actorId,
  actorEmail: t.actorEmail,
  actorName: t.actorName,
  actorType: t.actorType,
  actorCompany: t.actorCompany,
  groupId: t.groupId,
  targetKind: t.targetKind,
  targetId: t.targetId,
  targetName: t.targetName,
  targetEmail: t.targetEmail,
  targetCompany: t.targetCompany,
  additionalId: t.additionalId,
  featureName: t.featureName,
  featureMetas: t.featureMetas,
  ipAddress: t.ipAddress,
  occurredAt: t.occurredAt,
  sentAt: t.sentAt,
  receivedAt: t.receivedAt,
  metadata: t.metadata,
  hash: t.hash,
};

type EventRow = {
  id: string;
  tenantId: number;
  seq: number;
  action: string;
  name: string | null;
  title: string | null;
  description: string | null;
  actorId: string | null;
  actorEmail: string | null;
  actorName: string | null;
  actorType: string | null;
  actorCompany: string | null;
  groupId: string | null;
  targetKind: string | null;
  targetId: string | null;
  targetName: string | null;
  targetEmail: string | null;
  targetCompany: string | null;
  additionalId: string | null;
  featureName: string | null;
  featureMetas: Record<string, unknown> | null;
  ipAddress: string | null;
  occurredAt: Date;
  sentAt: Date | null;
  receivedAt: Date;
  metadata: Record<string, unknown>;
  hash: Uint8Array;
};

export function rowToEvent(r: EventRow): AuditEvent {
  const actor =
    (r.actorId ?? r.actorEmail ?? r.actorName ?? r.actorType ?? r.actorCompany)
      ? { id: r.actorId, email: r.actorEmail, name: r.actorName, type: r.actorType, company: r.actorCompany }
      : null;
  const target =
    (r.targetKind ?? r.targetId ?? r.targetName ?? r.targetEmail ?? r.targetCompany)
      ? {
          kind: r.targetKind,
          id: r.targetId,
          name: r.targetName,
          email: r.targetEmail,
          company: r.targetCompany,
        }
      : null;
  return {
    id: r.id,
    tenantId: r.tenantId,
    sequence: Number(r.seq),
    action: r.action,
    name: r.name,
    title: r.title,
    description: r.description,
    actor,
    groupId: r.groupId,
    target,
    additionalId: r.additionalId,
    feature:
      r.featureName === null ? null : { name: r.featureName, metas: (r.featureMetas ?? {}) as JsonObject },
    ipAddress: r.ipAddress,
    occurredAt: r.occurredAt,
    sentAt: r.sentAt,
    receivedAt: r.receivedAt,
    metadata: r.metadata as JsonObject,
    hash: Buffer.from(r.hash).toString('hex'),
  };
}

/**
 * Runs `fn` in a transaction bound to one tenant: row-level security sees only its rows. Driver
 * errors that mean "database unreachable" come out as DatabaseUnavailableError.
 */
export async function inTenant<T>(db: Db, tenantId: number, fn: (tx: Tx) => Promise<T>): Promise<T> {
  transactionStarted();
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
      return fn(tx);
    });
  } catch (error) {
    throw databaseFailed(classifyDatabaseError(error));
  } finally {
    transactionEnded();
  }
}

export type ListQuery = {
  filter: EventFilter;
  /** The viewer's slice of the tenant, ANDed with the filter. */
  restriction?: Restriction | undefined;
  order: EventOrder;
  /** Rows strictly after this position in the scan direction. */
  after?: Position | undefined;
  /** And strictly before this one. */
  until?: Position | undefined;
  /** Scan against the order (for `last`/`before`); rows come back in scan order. */
  reverse?: boolean;
  limit: number;
};

/** One keyset page. Ordered by (sort key, occurredAt, id), all in the same direction. */
export async function listEvents(db: Db, tenantId: number, q: ListQuery): Promise<AuditEvent[]> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select(eventColumns)
      .from(t)
      .where(and(...filterConditions(tenantId, q.filter, q.restriction), ...keysetCondition(q)))
      .orderBy(...orderTerms(q.order, q.reverse ?? false))
      .limit(q.limit);
    return rows.map(rowToEvent);
  });
}

function scanDirection(order: EventOrder, reverse: boolean): Direction {
  return reverse ? (order.direction === 'asc' ? 'desc' : 'asc') : order.direction;
}

function orderTerms(order: EventOrder, reverse: boolean): SQL[] {
  const dir = scanDirection(order, reverse);
  const by = dir === 'asc' ? asc : desc;
  const key = sortExpression(order.field);
  return [...(key ? [sql`${key} ${sql.raw(dir)}`] : []), by(t.occurredAt), by(t.id)];
}

function keysetCondition(q: ListQuery): SQL[] {
  const ascending = scanDirection(q.order, q.reverse ?? false) === 'asc';
  return [
    ...(q.after ? [beyond(q.order.field, q.after, ascending ? '>' : '<')] : []),
    ...(q.until ? [beyond(q.order.field, q.until, ascending ? '<' : '>')] : []),
  ];
}

/** Row comparison on (sort key, occurredAt, id): one index range, whatever the order. */
function beyond(field: OrderField, p: Position, op: '<' | '>'): SQL {
  const at = sql`${p.at.toISOString()}::timestamptz`;
  const id = sql`${p.id}::uuid`;
  const key = sortExpression(field);
  if (!key) return sql`(${t.occurredAt}, ${t.id}) ${sql.raw(op)} (${at}, ${id})`;
  return sql`(${key}, ${t.occurredAt}, ${t.id}) ${sql.raw(op)} (${p.key ?? ''}::text, ${at}, ${id})`;
}

/** Page by OFFSET, for the one dialect (Wasabi) whose contract is page numbers. */
export async function listEventsByOffset(
  db: Db,
  tenantId: number,
  q: {
    filter: EventFilter;
    restriction?: Restriction | undefined;
    order: EventOrder;
    offset: number;
    limit: number;
  },
): Promise<AuditEvent[]> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select(eventColumns)
      .from(t)
      .where(and(...filterConditions(tenantId, q.filter, q.restriction)))
      .orderBy(...orderTerms(q.order, false))
      .limit(q.limit)
      .offset(q.offset);
    return rows.map(rowToEvent);
  });
}

export async function countEvents(
  db: Db,
  tenantId: number,
  filter: EventFilter,
  restriction?: Restriction,
): Promise<number> {
  return inTenant(db, tenantId, async (tx) => {
    const [row] = await tx
      .select({ n: sql<string>`count(*)` })
      .from(t)
      .where(and(...filterConditions(tenantId, filter, restriction)));
    return Number(row?.n ?? 0);
  });
}

/** Batch lookup for DataLoader: same length and order as `ids`, null where absent or outside `restriction`. */
export async function getEventsByIds(
  db: Db,
  tenantId: number,
  ids: readonly string[],
  restriction?: Restriction,
): Promise<(AuditEvent | null)[]> {
  const wanted = ids.filter(isUuid);
  if (wanted.length === 0) return ids.map(() => null);
  const rows = await inTenant(db, tenantId, (tx) =>
    tx
      .select(eventColumns)
      .from(t)
      .where(
        and(
          eq(t.tenantId, tenantId),
          sql`${t.id} = any(${sql.param([...new Set(wanted)])}::uuid[])`,
          ...(restriction ? restrictionConditions(restriction) : []),
        ),
      ),
  );
  const byId = new Map(rows.map((r) => [r.id, rowToEvent(r)]));
  return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
}

export type CatalogEntry = { targetKind: string; action: string; actorType: string };

/**
 * What a tenant's events hold, for filter pickers. The whole tenant reads the catalog table that
 * ingest keeps; a restricted slice is computed from its own events (the catalog would name
 * actions and kinds outside it).
 */
export async function getCatalog(
  db: Db,
  tenantId: number,
  restriction?: Restriction,
): Promise<{ entries: CatalogEntry[]; earliest: Date | null; latest: Date | null }> {
  return inTenant(db, tenantId, async (tx) => {
    const within = and(eq(t.tenantId, tenantId), ...(restriction ? restrictionConditions(restriction) : []));
    const entries = restriction
      ? await tx
          .selectDistinct({
            targetKind: sql<string>`coalesce(${t.targetKind}, '')`,
            action: t.action,
            actorType: sql<string>`coalesce(${t.actorType}, '')`,
          })
          .from(t)
          .where(within)
      : await tx
          .select({
            targetKind: auditCatalog.targetKind,
            action: auditCatalog.action,
            actorType: auditCatalog.actorType,
          })
          .from(auditCatalog)
          .where(eq(auditCatalog.tenantId, tenantId));
    // Two index probes on (tenant_id, occurred_at), not a scan.
    const [first] = await tx
      .select({ at: t.occurredAt })
      .from(t)
      .where(within)
      .orderBy(asc(t.occurredAt))
      .limit(1);
    const [last] = await tx
      .select({ at: t.occurredAt })
      .from(t)
      .where(within)
      .orderBy(desc(t.occurredAt))
      .limit(1);
    return { entries, earliest: first?.at ?? null, latest: last?.at ?? null };
  });
}

// ---------------------------------------------------------------------------------------------
// Appending to the chain

/** What the service hands over for storage: the validated event with its server-set fields. */
export type NewEvent = Omit<AuditEvent, 'hash' | 'sequence'> & {
  idempotencyKey: string | null;
  requestHash: Buffer | null;
};

export type AppendOutcome =
  | { kind: 'stored'; event: AuditEvent }
  | { kind: 'replayed'; event: AuditEvent }
  | { kind: 'conflict'; idempotencyKey: string };

export type ChainHead = { seq: number; hash: string; checkpointSeq: number; checkpointAt: Date | null };

/**
 * Appends events to the tenant's chain in one transaction. The head row lock serializes appends
 * per tenant, so sequence numbers have no gaps and idempotency keys are checked race-free.
 * `seal` computes the canonical bytes and hash of an event placed after `prev`.
 */
export type ChainHooks = {
  /** Canonical bytes and hash of an event placed after `prev`. */
  seal: (event: Omit<AuditEvent, 'hash'>, prev: string) => { canonical: string; hash: string };
  /** A signed checkpoint of the new head when one is due, else null. */
  checkpoint: (head: ChainHead, now: Date) => SignedStatement | null;
};

export async function appendEvents(
  db: Db,
  tenantId: number,
  events: NewEvent[],
  hooks: ChainHooks,
): Promise<{ outcomes: AppendOutcome[]; head: ChainHead }> {
  return inTenant(db, tenantId, async (tx) => {
    const head = await lockHead(tx, tenantId);
    const keys = [...new Set(events.flatMap((e) => (e.idempotencyKey ? [e.idempotencyKey] : [])))];
    const existing = new Map<string, { requestHash: Buffer | null; event: AuditEvent }>();
    if (keys.length > 0) {
      const rows = await tx
        .select({ ...eventColumns, idempotencyKey: t.idempotencyKey, requestHash: t.requestHash })
        .from(t)
        .where(and(eq(t.tenantId, tenantId), sql`${t.idempotencyKey} = any(${textArray(keys)})`));
      for (const r of rows) {
        existing.set(r.idempotencyKey as string, {
          requestHash: r.requestHash ? Buffer.from(r.requestHash) : null,
          event: rowToEvent(r),
        });
      }
    }
    const outcomes: AppendOutcome[] = [];
    const inserts: (typeof t.$inferInsert)[] = [];
    const catalog = new Map<string, CatalogEntry>();
    let seq = head.seq;
    let prev = head.hash;
    for (const e of events) {
      const key = e.idempotencyKey;
      const seen = key ? existing.get(key) : undefined;
      if (key && seen) {
        const same =
          seen.requestHash !== null && e.requestHash !== null && seen.requestHash.equals(e.requestHash);
        outcomes.push(
          same ? { kind: 'replayed', event: seen.event } : { kind: 'conflict', idempotencyKey: key },
        );
        continue;
      }
      seq += 1;
      const { idempotencyKey, requestHash, ...fields } = e;
      const placed = { ...fields, sequence: seq };
      const sealed = hooks.seal(placed, prev);
      prev = sealed.hash;
      const event: AuditEvent = { ...placed, hash: sealed.hash };
      outcomes.push({ kind: 'stored', event });
      if (key) existing.set(key, { requestHash, event });
      inserts.push(toInsertRow(event, idempotencyKey, requestHash, sealed.canonical));
      const entry = {
        targetKind: e.target?.kind ?? '',
        action: e.action,
        actorType: e.actor?.type ?? '',
      };
      catalog.set(JSON.stringify(entry), entry);
    }
    if (inserts.length === 0) return { outcomes, head };
    await insertEvents(tx, inserts);
    await tx
      .update(chainHeads)
      .set({ seq, hash: Buffer.from(prev, 'hex') })
      .where(eq(chainHeads.tenantId, tenantId));
    await tx
      .insert(auditCatalog)
      .values([...catalog.values()].map((c) => ({ tenantId, ...c })))
      .onConflictDoNothing();
    const newHead = { ...head, seq, hash: prev };
    return {
      outcomes,
      head: await saveCheckpoint(tx, tenantId, newHead, hooks.checkpoint(newHead, new Date())),
    };
  });
}

/** Stores a signed statement about the chain and, for a checkpoint, notes it on the head. */
async function saveCheckpoint(
  tx: Tx,
  tenantId: number,
  head: ChainHead,
  signed: SignedStatement | null,
): Promise<ChainHead> {
  if (!signed) return head;
  const s = signed.parsed;
  await tx
    .insert(chainCheckpoints)
    .values({
      tenantId,
      kind: s.type,
      seq: s.seq,
      hash: Buffer.from(s.hash, 'hex'),
      signedAt: new Date(s.time),
      keyId: s.kid,
      statement: signed.statement,
      signature: Buffer.from(signed.signature, 'base64'),
    })
    .onConflictDoNothing();
  if (s.type !== 'checkpoint') return head;
  const signedAt = new Date(s.time);
  await tx
    .update(chainHeads)
    .set({ checkpointSeq: s.seq, checkpointAt: signedAt })
    .where(eq(chainHeads.tenantId, tenantId));
  return { ...head, checkpointSeq: s.seq, checkpointAt: signedAt };
}

/** Signs the head if `decide` says a checkpoint is due (the periodic sweep for idle tenants). */
export async function checkpointHead(
  db: Db,
  tenantId: number,
  decide: (head: ChainHead, now: Date) => SignedStatement | null,
): Promise<ChainHead> {
  return inTenant(db, tenantId, async (tx) => {
    const head = await lockHead(tx, tenantId);
    return saveCheckpoint(tx, tenantId, head, decide(head, new Date()));
  });
}

/**
 * Ids of keys, other than `known`, that signed any tenant's stored statements (a few at most).
 * Row-level security shows one tenant at a time, so it asks tenant by tenant; it runs once at start.
 */
export async function foreignSigningKeyIds(db: Db, tenantIds: number[], known: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const tenantId of tenantIds) {
    const rows = await inTenant(db, tenantId, (tx) =>
      tx
        .selectDistinct({ keyId: chainCheckpoints.keyId })
        .from(chainCheckpoints)
        .where(
          and(
            eq(chainCheckpoints.tenantId, tenantId),
            sql`${chainCheckpoints.keyId} <> all(${textArray(known)})`,
          ),
        )
        .limit(5),
    );
    for (const r of rows) found.add(r.keyId);
  }
  return [...found];
}

export type StoredStatement = {
  kind: string;
  seq: number;
  hash: string;
  signedAt: Date;
  keyId: string;
  statement: string;
  signature: string;
};

export async function listCheckpoints(
  db: Db,
  tenantId: number,
  q: { afterSeq?: number | undefined; limit: number },
): Promise<StoredStatement[]> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select()
      .from(chainCheckpoints)
      .where(
        and(
          eq(chainCheckpoints.tenantId, tenantId),
          q.afterSeq === undefined ? undefined : gt(chainCheckpoints.seq, q.afterSeq),
        ),
      )
      .orderBy(asc(chainCheckpoints.seq), asc(chainCheckpoints.kind))
      .limit(q.limit);
    return rows.map((r) => ({
      kind: r.kind,
      seq: Number(r.seq),
      hash: Buffer.from(r.hash).toString('hex'),
      signedAt: r.signedAt,
      keyId: r.keyId,
      statement: r.statement,
      signature: Buffer.from(r.signature).toString('base64'),
    }));
  });
}

type InsertRow = typeof t.$inferInsert;

/** Every column of an event row, with its SQL type, in insert order. */
const INSERT_COLUMNS: [keyof InsertRow, string][] = [
  ['tenantId', 'integer'],
  ['seq', 'bigint'],
  ['id', 'uuid'],
  ['action', 'text'],
  ['name', 'text'],
  ['title', 'text'],
  ['description', 'text'],
  ['actorId', 'text'],
  ['actorEmail', 'text'],
  ['actorName', 'text'],
  ['actorType', 'text'],
  ['actorCompany', 'text'],
  ['groupId', 'text'],
  ['targetKind', 'text'],
  ['targetId', 'text'],
  ['targetName', 'text'],
  ['targetEmail', 'text'],
  ['targetCompany', 'text'],
  ['additionalId', 'text'],
  ['featureName', 'text'],
  ['featureMetas', 'jsonb'],
  ['ipAddress', 'text'],
  ['occurredAt', 'timestamptz'],
  ['sentAt', 'timestamptz'],
  ['receivedAt', 'timestamptz'],
  ['metadata', 'jsonb'],
  ['idempotencyKey', 'text'],
  ['requestHash', 'bytea'],
  ['canonical', 'text'],
  ['hash', 'bytea'],
];

/** A column's values as a text array element: JSON, ISO time and hex bytes are cast back in SQL. */
function asText(value: unknown, type: string): string | number | null {
  if (value === null || value === undefined) return null;
  if (type === 'jsonb') return JSON.stringify(value);
  if (type === 'timestamptz') return (value as Date).toISOString();
  if (type === 'bytea') return Buffer.from(value as Uint8Array).toString('hex');
  return value as string | number;
}

/**
 * Inserts a batch as `INSERT … SELECT FROM unnest(one array per column)`: 30 parameters whatever
 * the batch size. A VALUES list of 1000 events has 30,000, which cost more to build, send and
 * parse than to store.
 */
async function insertEvents(tx: Tx, rows: InsertRow[]): Promise<void> {
  const arrays = INSERT_COLUMNS.map(([key, type]) => {
    const values = rows.map((r) => asText(r[key], type));
    return sql`${sql.param(values)}::${sql.raw(type === 'integer' || type === 'bigint' ? type : 'text')}[]`;
  });
  const names = INSERT_COLUMNS.map(([key]) => sql.identifier(t[key].name));
  const picks = INSERT_COLUMNS.map(([, type], i) =>
    type === 'bytea'
      ? sql.raw(`decode(c${i}, 'hex')`)
      : type === 'jsonb' || type === 'timestamptz' || type === 'uuid'
        ? sql.raw(`c${i}::${type}`)
        : sql.raw(`c${i}`),
  );
  const aliases = sql.raw(INSERT_COLUMNS.map((_, i) => `c${i}`).join(', '));
  await tx.execute(
    sql`insert into ${t} (${sql.join(names, sql`, `)}) select ${sql.join(picks, sql`, `)} from unnest(${sql.join(arrays, sql`, `)}) as u(${aliases})`,
  );
}

function toInsertRow(
  e: AuditEvent,
  idempotencyKey: string | null,
  requestHash: Buffer | null,
  canonical: string,
): typeof t.$inferInsert {
  return {
    tenantId: e.tenantId,
    seq: e.sequence,
    id: e.id,
    action: e.action,
    name: e.name,
    title: e.title,
    description: e.description,
    actorId: e.actor?.id ?? null,
    actorEmail: e.actor?.email ?? null,
    actorName: e.actor?.name ?? null,
    actorType: e.actor?.type ?? null,
    actorCompany: e.actor?.company ?? null,
    groupId: e.groupId,
    targetKind: e.target?.kind ?? null,
    targetId: e.target?.id ?? null,
    targetName: e.target?.name ?? null,
    targetEmail: e.target?.email ?? null,
    targetCompany: e.target?.company ?? null,
    additionalId: e.additionalId,
    featureName: e.feature?.name ?? null,
    featureMetas: e.feature?.metas ?? null,
    ipAddress: e.ipAddress,
    occurredAt: e.occurredAt,
    sentAt: e.sentAt,
    receivedAt: e.receivedAt,
    metadata: e.metadata,
    idempotencyKey,
    requestHash,
    canonical,
    hash: Buffer.from(e.hash, 'hex'),
  };
}

async function lockHead(tx: Tx, tenantId: number): Promise<ChainHead> {
  const select = () =>
    tx
      .select({
        seq: chainHeads.seq,
        hash: chainHeads.hash,
        checkpointSeq: chainHeads.checkpointSeq,
        checkpointAt: chainHeads.checkpointAt,
      })
      .from(chainHeads)
      .where(eq(chainHeads.tenantId, tenantId))
      .for('update');
  let [row] = await select();
  if (!row) {
    await tx
      .insert(chainHeads)
      .values({ tenantId, seq: 0, hash: Buffer.alloc(32) })
      .onConflictDoNothing();
    [row] = await select();
  }
  if (!row) throw new Error(`chain head of tenant ${tenantId} could not be created`);
  return {
    seq: Number(row.seq),
    hash: Buffer.from(row.hash).toString('hex'),
    checkpointSeq: Number(row.checkpointSeq),
    checkpointAt: row.checkpointAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the chain back for verification, export and pruning

export type StoredLink = { seq: number; hash: string; canonical: string; event: AuditEvent };

/**
 * Every stored event of the tenant from `fromSeq` (to `toSeq`), in sequence order, in keyset
 * batches so a chain of any length is read with bounded memory. Ordered by (seq, id), so even a
 * sequence number stored twice comes back deterministically.
 */
export async function* streamChain(
  db: Db,
  tenantId: number,
  range: { fromSeq: number; toSeq?: number | undefined; batchSize?: number },
): AsyncGenerator<StoredLink> {
  const batchSize = range.batchSize ?? 5000;
  let after: { seq: number; id: string } | null = null;
  for (;;) {
    const cursor: { seq: number; id: string } | null = after;
    const rows: (EventRow & { canonical: string })[] = await inTenant(db, tenantId, (tx) =>
      tx
        .select({ ...eventColumns, canonical: t.canonical })
        .from(t)
        .where(
          and(
            eq(t.tenantId, tenantId),
            gte(t.seq, range.fromSeq),
            range.toSeq === undefined ? undefined : sql`${t.seq} <= ${range.toSeq}`,
            cursor ? sql`(${t.seq}, ${t.id}) > (${cursor.seq}, ${cursor.id}::uuid)` : undefined,
          ),
        )
        .orderBy(asc(t.seq), asc(t.id))
        .limit(batchSize),
    );
    for (const r of rows) {
      const event = rowToEvent(r);
      yield { seq: event.sequence, hash: event.hash, canonical: r.canonical, event };
    }
    if (rows.length < batchSize) return;
    const last = rows.at(-1) as EventRow;
    after = { seq: Number(last.seq), id: last.id };
  }
}

export async function getChainHead(db: Db, tenantId: number): Promise<ChainHead | null> {
  return inTenant(db, tenantId, async (tx) => {
    const [row] = await tx.select().from(chainHeads).where(eq(chainHeads.tenantId, tenantId));
    return row
      ? {
          seq: Number(row.seq),
          hash: Buffer.from(row.hash).toString('hex'),
          checkpointSeq: Number(row.checkpointSeq),
          checkpointAt: row.checkpointAt,
        }
      : null;
  });
}

/** The stored hash of one sequence number (the link a range verification starts from). */
export async function getLinkHash(db: Db, tenantId: number, seq: number): Promise<string | null> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select({ hash: t.hash })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), eq(t.seq, seq)))
      .limit(2);
    return rows.length === 1 && rows[0] ? Buffer.from(rows[0].hash).toString('hex') : null;
  });
}

/**
 * Removes the events up to `throughSeq` and stores the signed anchor that lets the rest of the
 * chain verify, in one transaction. Needs the table owner: the serving role cannot delete, and
 * the append-only trigger lets a DELETE through only inside a transaction marked as a prune.
 */
export async function pruneThrough(
  tx: Tx,
  tenantId: number,
  throughSeq: number,
  anchor: SignedStatement,
): Promise<number> {
  await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
  await tx.execute(sql`select set_config('audit.pruning', 'on', true)`);
  await saveCheckpoint(tx, tenantId, { seq: 0, hash: '', checkpointSeq: 0, checkpointAt: null }, anchor);
  const deleted = await tx
    .delete(t)
    .where(and(eq(t.tenantId, tenantId), sql`${t.seq} <= ${throughSeq}`))
    .returning({ seq: t.seq });
  return deleted.length;
}

/** The newest sequence number received before `cutoff`, counting only an unbroken prefix of the chain. */
export async function lastSeqReceivedBefore(
  db: Db,
  tenantId: number,
  cutoff: Date,
): Promise<{ seq: number; hash: string } | null> {
  return inTenant(db, tenantId, async (tx) => {
    const [firstKept] = await tx
      .select({ seq: t.seq })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), gte(t.receivedAt, cutoff)))
      .orderBy(asc(t.seq))
      .limit(1);
    const bound = firstKept ? sql`${t.seq} < ${Number(firstKept.seq)}` : undefined;
    const [last] = await tx
      .select({ seq: t.seq, hash: t.hash })
      .from(t)
      .where(and(eq(t.tenantId, tenantId), lt(t.receivedAt, cutoff), bound))
      .orderBy(desc(t.seq))
      .limit(1);
    return last ? { seq: Number(last.seq), hash: Buffer.from(last.hash).toString('hex') } : null;
  });
}
