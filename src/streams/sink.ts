// What a log stream destination is to the delivery worker: something that takes a batch of
// events in sequence order and either accepts all of them or throws. A new kind of destination
// (Kafka, S3…) is one more Sink and one more entry in openSink (src/streams/sinks.ts).
import type { AuditEvent } from '../audit/model.ts';

/** One event as every destination receives it: its id and sequence let receivers deduplicate. */
export type StreamedEvent = {
  id: string;
  /** The tenant's gapless sequence number: 1, 2, 3… */
  sequence: number;
  tenant: string;
  action: string;
  name: string | null;
  title: string | null;
  description: string | null;
  actor: AuditEvent['actor'];
  groupId: string | null;
  target: AuditEvent['target'];
  additionalId: string | null;
  feature: AuditEvent['feature'];
  ipAddress: string | null;
  occurredAt: string;
  sentAt: string | null;
  receivedAt: string;
  metadata: AuditEvent['metadata'];
  /** The event's link in the tenant's hash chain (hex SHA-256). */
  hash: string;
};

export type DeliveryBatch = {
  tenant: string;
  /** The log stream's id. */
  destination: string;
  /** In sequence order, at least one. */
  events: StreamedEvent[];
};

export interface Sink {
  /** Resolves once the destination has accepted every event of the batch; throws otherwise. */
  deliver(batch: DeliveryBatch, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export function toStreamedEvent(event: AuditEvent, tenant: string): StreamedEvent {
  return {
    id: event.id,
    sequence: event.sequence,
    tenant,
    action: event.action,
    name: event.name,
    title: event.title,
    description: event.description,
    actor: event.actor,
    groupId: event.groupId,
    target: event.target,
    additionalId: event.additionalId,
    feature: event.feature,
    ipAddress: event.ipAddress,
    occurredAt: event.occurredAt.toISOString(),
    sentAt: event.sentAt?.toISOString() ?? null,
    receivedAt: event.receivedAt.toISOString(),
    metadata: event.metadata,
    hash: event.hash,
  };
}

/** Raised by a sink for an answer that says why, so the stream's status can show it. */
export class DeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeliveryError';
  }
}
