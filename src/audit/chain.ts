// The tamper-evident chain: each event's canonical serialization (RFC 8785 JSON) names its
// tenant, its sequence number and the hash of the event before it, and its own hash is the
// SHA-256 of those exact bytes. Changing, removing, inserting or reordering any stored event
// breaks the chain at that point.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditEvent, JsonObject } from './model.ts';

export const CHAIN_VERSION = 1;
/** The `prev` of a tenant's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** Everything an event is evidence of, in the form that gets hashed. */
export type CanonicalEvent = {
  v: number;
  tenant: number;
  seq: number;
  prev: string;
  id: string;
  action: string;
  name: string | null;
  title: string | null;
  description: string | null;
  actor: {
    id: string | null;
    email: string | null;
    name: string | null;
    type: string | null;
    company: string | null;
  };
  groupId: string | null;
  target: {
    kind: string | null;
    id: string | null;
    name: string | null;
    email: string | null;
    company: string | null;
  };
  additionalId: string | null;
  feature: { name: string; metas: JsonObject } | null;
  ip: string | null;
  occurredAt: string;
  sentAt: string | null;
  receivedAt: string;
  metadata: JsonObject;
};

const noActor = { id: null, email: null, name: null, type: null, company: null };
const noTarget = { kind: null, id: null, name: null, email: null, company: null };

export function toCanonical(event: Omit<AuditEvent, 'hash'>, prev: string): CanonicalEvent {
  return {
    v: CHAIN_VERSION,
    tenant: event.tenantId,
    seq: event.sequence,
    prev,
    id: event.id,
    action: event.action,
    name: event.name,
    title: event.title,
    description: event.description,
    actor: event.actor ?? noActor,
    groupId: event.groupId,
    target: event.target ?? noTarget,
    additionalId: event.additionalId,
    feature: event.feature,
    ip: event.ipAddress,
    occurredAt: event.occurredAt.toISOString(),
    sentAt: event.sentAt ? event.sentAt.toISOString() : null,
    receivedAt: event.receivedAt.toISOString(),
    metadata: event.metadata,
  };
}

export function serializeCanonical(doc: CanonicalEvent): string {
  const s = canonicalize(doc);
  if (s === undefined) throw new Error('event cannot be canonicalized');
  return s;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Serializes and hashes one event placed after `prev`. */
export function sealEvent(
  event: Omit<AuditEvent, 'hash'>,
  prev: string,
): { canonical: string; hash: string } {
  const canonical = serializeCanonical(toCanonical(event, prev));
  return { canonical, hash: sha256Hex(canonical) };
}
