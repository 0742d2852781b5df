// Signed positions in an event listing, for both kinds of paging the gateway offers: GraphQL
// connection cursors (bound to the query they were issued for) and continuation tokens that carry
// their own query (Mural's nextToken). Both are TokenSigner tokens, so they cannot be edited,
// forged or used by another tenant.

import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { ValidationError } from '../errors.ts';
import type { EventFilter } from './filters.ts';
import {
  type AuditEvent,
  type EventOrder,
  isUuid,
  type OrderField,
  type Position,
  positionOf,
} from './model.ts';
import type { TokenSigner } from './tokens.ts';
import type { Restriction } from './viewer.ts';

type CursorPayload = { q: string; k: string | null; t: number; i: string };

/** A continuation's query (whatever the dialect needs to repeat it) and where its last page ended. */
export type Continuation<Q> = { query: Q; after: Position & { key: null } };

export class Cursors {
  constructor(private readonly tokens: TokenSigner) {}

  /**
   * What a cursor is bound to. A list filter matches any of its values, so the same values in
   * another order, or repeated, are the same query and take the same cursors. The restriction is
   * part of the question: a cursor from a wider view does not fit a narrower one.
   */
  queryKey(filter: EventFilter, order: EventOrder, restriction: Restriction | undefined): string {
    const sameQuery = Object.fromEntries(
      Object.entries(filter).map(([name, v]) => [name, Array.isArray(v) ? [...new Set(v)].sort() : v]),
    );
    return createHash('sha256')
      .update(canonicalize({ filter: sameQuery, order, ...(restriction ? { restriction } : {}) }) ?? '')
      .digest('base64url')
      .slice(0, 16);
  }

  encodeCursor(tenantId: number, queryKey: string, event: AuditEvent, field: OrderField): string {
    const p = positionOf(event, field);
    const payload: CursorPayload = { q: queryKey, k: p.key, t: p.at.getTime(), i: p.id };
    return this.tokens.sign('cursor', tenantId, payload);
  }

  /** The position a cursor names; ValidationError on `arg` when it is not one of this query's. */
  decodeCursor(tenantId: number, cursor: string, arg: string, queryKey: string): Position {
    const p = this.tokens.verify('cursor', tenantId, cursor) as CursorPayload | null;
    if (!p || typeof p !== 'object' || typeof p.t !== 'number' || typeof p.i !== 'string' || !isUuid(p.i)) {
      throw new ValidationError(arg, 'is not a valid cursor for this connection');
    }
    if (p.q !== queryKey) {
      throw new ValidationError(arg, 'belongs to a different filter or order; start again without a cursor');
    }
    return { key: typeof p.k === 'string' ? p.k : null, at: new Date(p.t), id: p.i };
  }

  /**
   * A place in the tenant's commit order for the live tail: a page's `streamPosition` and each
   * streamed event's cursor are both this token, naming a sequence number. It is bound to the
   * tenant, not to a filter: every event after it is either delivered or skipped by the filter.
   */
  encodeStreamPosition(tenantId: number, seq: number): string {
    return this.tokens.sign('stream', tenantId, { s: seq });
  }

  /** The sequence number a stream position names; ValidationError on `arg` when it is not one of this tenant's. */
  decodeStreamPosition(tenantId: number, token: string, arg: string): number {
    const p = this.tokens.verify('stream', tenantId, token) as { s?: unknown } | null;
    if (!p || typeof p !== 'object' || !Number.isSafeInteger(p.s) || (p.s as number) < 0) {
      throw new ValidationError(
        arg,
        'is not a stream position: pass a `streamPosition` of `auditEvents` or a `cursor` this stream delivered',
      );
    }
    return p.s as number;
  }

  /** A token to continue a time-ordered listing after `last`, carrying the listing's query. */
  encodeContinuation(tenantId: number, query: Record<string, unknown>, last: AuditEvent): string {
    return this.tokens.sign('continuation', tenantId, { ...query, t: last.occurredAt.getTime(), i: last.id });
  }

  /**
   * The query and position of a continuation token, or null when it is not a valid one for this
   * tenant. Tokens signed before the purpose was renamed from `mural` still read, so a client
   * paging through a release keeps its place.
   */
  decodeContinuation(tenantId: number, token: string): Continuation<Record<string, unknown>> | null {
    const payload =
      this.tokens.verify('continuation', tenantId, token) ?? this.tokens.verify('mural', tenantId, token);
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return null;
    const { t, i, ...query } = payload as Record<string, unknown>;
    if (typeof t !== 'number' || !Number.isFinite(t) || typeof i !== 'string' || !isUuid(i)) return null;
    return { query, after: { key: null, at: new Date(t), id: i } };
  }
}
