// The event as a row, derived from the Drizzle table (src/db/schema.ts) rather than retyped: the
// columns a read selects, the row type, the insert's columns with their SQL types, and the one
// mapper pair between a row and the domain's AuditEvent.
import { getTableColumns } from 'drizzle-orm';
import { auditEvents } from '../../db/schema.ts';
import type { AuditEvent, JsonObject } from '../model.ts';

export const t = auditEvents;

// The append path's bookkeeping (idempotency, and the canonical text the hash covers) is stored
// with the event but is not part of the event a reader gets.
const { idempotencyKey, requestHash, canonical, id, ...served } = getTableColumns(auditEvents);
export const appendColumns = { idempotencyKey, requestHash, canonical };

/** What a read selects: every served column, id first (the SQL the bench's floor restates). */
export const eventColumns = { id, ...served };

export type EventRow = Omit<typeof auditEvents.$inferSelect, keyof typeof appendColumns>;
export type InsertRow = typeof auditEvents.$inferInsert;

/** The SQL types an insert's unnest arrays are cast back to; another type needs a cast in insertEvents. */
const INSERTABLE_TYPES = ['integer', 'bigint', 'uuid', 'text', 'jsonb', 'timestamptz', 'bytea'] as const;
export type InsertType = (typeof INSERTABLE_TYPES)[number];

function insertTypeOf(column: string, sqlType: string): InsertType {
  const type =
    sqlType.startsWith('timestamp') && sqlType.endsWith('with time zone') ? 'timestamptz' : sqlType;
  if (!(INSERTABLE_TYPES as readonly string[]).includes(type)) {
    throw new Error(
      `audit_events.${column} has type ${sqlType}, which insertEvents cannot pass through unnest`,
    );
  }
  return type as InsertType;
}

/** Every column of an event row, with its SQL type, in table (and insert) order. */
export const INSERT_COLUMNS: readonly (readonly [keyof InsertRow, InsertType])[] = Object.entries(
  getTableColumns(auditEvents),
).map(([key, column]) => [key as keyof InsertRow, insertTypeOf(column.name, column.getSQLType())] as const);

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

export function toInsertRow(
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
