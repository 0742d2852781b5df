// Drizzle table definitions. drizzle-kit turns changes here into SQL migrations under drizzle/;
// row-level security, roles and grants live in hand-written migrations beside them.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

/** Raw bytes (hashes, signatures). Both drivers hand bytea back as a Uint8Array or Buffer. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

/**
 * Text compared in byte order (COLLATE "C"): every column the gateway filters or sorts by, so an
 * order or a match is the same on any server locale and in PGlite. drizzle-kit cannot emit
 * COLLATE, so the hand-written migration 0001 sets it; this mark shows it here, and
 * test/collation.test.ts fails when the database and the marks disagree (a new filterable column
 * needs both the mark and a migration).
 */
export const BYTE_ORDER_COLUMNS: Record<string, string[]> = {};
function byteOrderText(table: string, name: string) {
  BYTE_ORDER_COLUMNS[table] ??= [];
  BYTE_ORDER_COLUMNS[table].push(name);
  return text(name);
}

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 });

export const tenants = pgTable(
  'tenants',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: text('slug').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    /** Whether the tenant's reads are recorded in `audit_reads` (on unless the operator switched it off). */
    readLog: boolean('read_log').notNull().default(true),
  },
  (t) => [
    uniqueIndex('tenants_slug_key').on(t.slug),
    check('tenants_slug_format', sql`${t.slug} ~ '^[a-z0-9][a-z0-9-]{0,62}$'`),
  ],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    /** The public part of the key, printed in key listings and used by `keys revoke`. */
    id: text('id').primaryKey(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name'),
    scopes: text('scopes').array().notNull(),
    /** SHA-256 of the secret part; the secret itself is never stored. */
    secretHash: bytea('secret_hash').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [index('api_keys_tenant_idx').on(t.tenantId)],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** Position in the tenant's hash chain: 1, 2, 3... without gaps. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    id: uuid('id').notNull(),
    action: byteOrderText('audit_events', 'action').notNull(),
    name: text('name'),
    title: text('title'),
    description: text('description'),
    actorId: byteOrderText('audit_events', 'actor_id'),
    actorEmail: byteOrderText('audit_events', 'actor_email'),
    actorName: text('actor_name'),
    actorType: text('actor_type'),
    actorCompany: text('actor_company'),
    groupId: byteOrderText('audit_events', 'group_id'),
    targetKind: byteOrderText('audit_events', 'target_kind'),
    targetId: byteOrderText('audit_events', 'target_id'),
    targetName: text('target_name'),
    targetEmail: text('target_email'),
    targetCompany: text('target_company'),
    additionalId: text('additional_id'),
    featureName: text('feature_name'),
    featureMetas: jsonb('feature_metas').$type<Record<string, unknown>>(),
    ipAddress: byteOrderText('audit_events', 'ip_address'),
    occurredAt: timestamptz('occurred_at').notNull(),
    sentAt: timestamptz('sent_at'),
    receivedAt: timestamptz('received_at').notNull(),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull(),
    idempotencyKey: text('idempotency_key'),
    /** SHA-256 of the request as the client sent it, to tell a retry from a reused key. */
    requestHash: bytea('request_hash'),
    /** The exact canonical JSON the hash covers (jsonb would not round-trip it). */
    canonical: text('canonical').notNull(),
    hash: bytea('hash').notNull(),
  },
  (t) => [
    // Led by the tenant, like every key (drizzle/0005; test/tenant-keys.test.ts).
    primaryKey({ name: 'audit_events_pkey', columns: [t.tenantId, t.id] }),
    uniqueIndex('audit_events_tenant_seq_key').on(t.tenantId, t.seq),
    uniqueIndex('audit_events_idempotency_key')
      .on(t.tenantId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    index('audit_events_time_idx').on(t.tenantId, t.occurredAt, t.id),
    index('audit_events_action_idx').on(t.tenantId, t.action, t.occurredAt, t.id),
    index('audit_events_actor_idx').on(t.tenantId, sql`coalesce(${t.actorId}, '')`, t.occurredAt, t.id),
    index('audit_events_target_kind_idx').on(
      t.tenantId,
      sql`coalesce(${t.targetKind}, '')`,
      t.occurredAt,
      t.id,
    ),
    index('audit_events_group_idx').on(t.tenantId, sql`coalesce(${t.groupId}, '')`, t.occurredAt, t.id),
    index('audit_events_actor_email_idx')
      .on(t.tenantId, t.actorEmail, t.occurredAt)
      .where(sql`${t.actorEmail} is not null`),
    index('audit_events_target_id_idx')
      .on(t.tenantId, t.targetId, t.occurredAt)
      .where(sql`${t.targetId} is not null`),
    index('audit_events_ip_idx')
      .on(t.tenantId, t.ipAddress, t.occurredAt)
      .where(sql`${t.ipAddress} is not null`),
    // filter.search: trigrams of one folded text per event (docs/analysts.md#search). The
    // functions, and the pg_trgm and unaccent extensions they use, come from migration 0003.
    index('audit_events_search_idx').using(
      'gin',
      sql`public.audit_search_document(${t.action}, ${t.name}, ${t.title}, ${t.description}, ${t.actorName}, ${t.actorEmail}, ${t.targetName}, ${t.targetId}, ${t.metadata}) public.gin_trgm_ops`,
    ),
    check('audit_events_seq_positive', sql`${t.seq} > 0`),
    check('audit_events_hash_length', sql`length(${t.hash}) = 32`),
  ],
);

/** Distinct (target kind, action, actor type) seen per tenant: what availableFilters lists. */
export const auditCatalog = pgTable(
  'audit_catalog',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    targetKind: byteOrderText('audit_catalog', 'target_kind').notNull(),
    action: byteOrderText('audit_catalog', 'action').notNull(),
    actorType: byteOrderText('audit_catalog', 'actor_type').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.targetKind, t.action, t.actorType] })],
);

/** The newest link of each tenant's chain; its row lock serializes appends per tenant. */
export const chainHeads = pgTable('chain_heads', {
  tenantId: integer('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: bytea('hash').notNull(),
  /** Sequence of the newest signed checkpoint, to know when the next one is due. */
  checkpointSeq: bigint('checkpoint_seq', { mode: 'number' }).notNull().default(0),
  checkpointAt: timestamptz('checkpoint_at'),
});

/**
 * Signed statements about a tenant's chain: periodic checkpoints of the head, and the anchor a
 * prune leaves behind (the hash of the last removed event, so the rest still verifies).
 */
export const chainCheckpoints = pgTable(
  'chain_checkpoints',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    kind: text('kind').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    hash: bytea('hash').notNull(),
    signedAt: timestamptz('signed_at').notNull(),
    keyId: text('key_id').notNull(),
    /** The exact bytes that were signed. */
    statement: text('statement').notNull(),
    signature: bytea('signature').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.kind, t.seq] }),
    check('chain_checkpoints_kind', sql`${t.kind} in ('checkpoint', 'anchor')`),
  ],
);

/**
 * A tenant's log streams: where its events are delivered as they are committed (a webhook, a
 * NATS JetStream subject), which of them, and how far delivery got. `secret` signs webhook
 * batches, so it is stored as given; it is never read back out through any query.
 */
export const logStreams = pgTable(
  'log_streams',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    /** The destination's settings (URL, NATS servers and stream); never a secret. */
    config: jsonb('config').$type<Record<string, unknown>>().notNull(),
    secret: text('secret'),
    /** Only events with one of these actions; null: every event. */
    actions: text('actions').array(),
    /** The highest sequence number delivered (or skipped by the filter): delivery resumes after it. */
    position: bigint('position', { mode: 'number' }).notNull().default(0),
    /** The highest sequence number the destination acknowledged. */
    lastDeliveredSeq: bigint('last_delivered_seq', { mode: 'number' }),
    lastDeliveredAt: timestamptz('last_delivered_at'),
    lastError: text('last_error'),
    lastErrorAt: timestamptz('last_error_at'),
    /** Consecutive failed attempts, for the backoff. */
    failures: integer('failures').notNull().default(0),
    paused: boolean('paused').notNull().default(false),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'log_streams_pkey', columns: [t.tenantId, t.id] }),
    check('log_streams_kind', sql`${t.kind} in ('webhook', 'nats')`),
    check('log_streams_position', sql`${t.position} >= 0`),
  ],
);

/**
 * When each log stream is due and which gateway instance holds it. Outside row-level security on
 * purpose: the delivery worker finds due streams of every tenant here, and the table holds ids
 * and times only, nothing about the events or the destination.
 */
export const logStreamLeases = pgTable(
  'log_stream_leases',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    streamId: uuid('stream_id').notNull(),
    /** Earliest time of the next attempt (now after a success, later after a failure). */
    nextAttemptAt: timestamptz('next_attempt_at').notNull().defaultNow(),
    /** The instance delivering the stream, until `leaseExpiresAt`. */
    holder: text('holder'),
    leaseExpiresAt: timestamptz('lease_expires_at'),
  },
  (t) => [
    primaryKey({ name: 'log_stream_leases_pkey', columns: [t.tenantId, t.streamId] }),
    index('log_stream_leases_due_idx').on(t.nextAttemptAt),
  ],
);

/**
 * Who read the trail: one row per read of a tenant's events (a listing page, a count, a lookup, a
 * stream, an export, a verification), written in batches after the read answered. Not in the
 * tenant's hash chain (docs/analysts.md says why); append-only for the serving role, which may
 * only select and insert.
 */
export const auditReads = pgTable(
  'audit_reads',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** When the read was answered (the gateway's clock). */
    at: timestamptz('at').notNull(),
    id: uuid('id').notNull(),
    /** The API key that read, or that minted the viewer token that read. */
    keyId: byteOrderText('audit_reads', 'key_id').notNull(),
    tokenId: text('token_id'),
    /** The viewer token's restriction; null for the whole tenant. */
    restriction: jsonb('restriction').$type<Record<string, unknown>>(),
    surface: byteOrderText('audit_reads', 'surface').notNull(),
    /** The GraphQL operation name, or the REST method and route. */
    operation: text('operation').notNull(),
    kind: byteOrderText('audit_reads', 'kind').notNull(),
    /** The filter as the service validated it. */
    filter: jsonb('filter').$type<Record<string, unknown>>().notNull(),
    clientAddress: text('client_address').notNull(),
    requestId: text('request_id'),
    /** How many events the read handed back (or checked, for a verification). */
    events: integer('events').notNull(),
  },
  (t) => [primaryKey({ name: 'audit_reads_pkey', columns: [t.tenantId, t.at, t.id] })],
);

/**
 * A tenant's retention policy and legal hold (docs/retention.md). A tenant without a row keeps the
 * default (RETENTION_DEFAULT). Only the owner reads and writes it (the CLI and the retention job,
 * through `Database.admin`); the serving role has no grant, so no API request can change it.
 */
export const tenantRetention = pgTable(
  'tenant_retention',
  {
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /**
     * How long events are kept, as an ISO 8601 duration of one unit (`P30D`, `P13M`, `P7Y`), or
     * `forever`; null: the gateway's default.
     */
    period: text('period'),
    /** Set while the tenant is on legal hold: nothing of it is pruned, whatever its period. */
    holdSince: timestamptz('hold_since'),
    /** Who placed the hold, and why (as given to `tenants legal-hold`). */
    holdBy: text('hold_by'),
    holdReason: text('hold_reason'),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'tenant_retention_pkey', columns: [t.tenantId] }),
    check('tenant_retention_period_format', sql`${t.period} ~ '^(P[1-9][0-9]{0,5}[DMY]|forever)$'`),
    check(
      'tenant_retention_hold_complete',
      sql`(${t.holdSince} is null) = (${t.holdBy} is null) and (${t.holdSince} is null) = (${t.holdReason} is null)`,
    ),
  ],
);

/**
 * Rollups of event counts (issue 13 §1; src/audit/repository/count-rollups.ts): how many of a
 * tenant's events fall in each UTC hour, day or month per action or actor. They are kept exact in
 * the append transaction and rebuilt by `rebuildCountRollups` wherever events are removed, and a
 * count query reads them only where its filter, grouping and buckets line up with their slots.
 * An absent actor is stored as '' (the events' coalesce() form).
 */
function countRollup(name: string, slot: string, dimension: string) {
  return pgTable(
    name,
    {
      // No foreign key to tenants: every row is derived from events, which have one, and a
      // key check per new row was half the cost of keeping the rollups at ingest.
      tenantId: integer('tenant_id').notNull(),
      /** Start of the UTC hour, day or month the events occurred in. */
      slot: timestamptz(slot).notNull(),
      value: byteOrderText(name, dimension).notNull(),
      events: bigint('events', { mode: 'number' }).notNull(),
    },
    // By time for a window over every value, by value for a window over a few.
    (t) => [
      primaryKey({ name: `${name}_pkey`, columns: [t.tenantId, t.slot, t.value] }),
      index(`${name}_value_idx`).on(t.tenantId, t.value, t.slot),
    ],
  );
}

export const countsByHourAction = countRollup('audit_counts_hour_action', 'hour', 'action');
export const countsByDayActor = countRollup('audit_counts_day_actor', 'day', 'actor_id');
export const countsByMonthActor = countRollup('audit_counts_month_actor', 'month', 'actor_id');
