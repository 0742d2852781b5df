// The audit service: the rules every surface shares. Authorization (every method takes the
// caller's viewer and refuses what its scopes do not allow; a restricted viewer's slice is ANDed
// into every read), tenancy, filter validation, keyset paging and cursors, ingest with
// idempotency, and the chain's checkpoints. GraphQL resolvers and REST dialects only parse
// their input, call one of these with the viewer, and shape the answer.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../db/client.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { recordChainAppend, recordIngestBatch } from '../metrics.ts';
import { sealEvent } from './chain.ts';
import type { ChainService } from './chain-service.ts';
import { assembleCounts, type CountRequest, checkCountRequest, type EventCounts } from './counts.ts';
import { type Continuation, Cursors } from './cursors.ts';
import { type EventFilter, validateFilter } from './filters.ts';
import { GroupCommitter } from './group-commit.ts';
import { LiveTail, type LiveTailLimits, type LiveTailOptions, type TailItem } from './live-tail.ts';
import {
  type AuditEvent,
  type EventField,
  type EventInput,
  type EventOrder,
  type NewEvent,
  type OrderField,
  type Position,
  parseEventInput,
  positionOf,
} from './model.ts';
import type { ReadLog } from './read-log.ts';
import { appendEvents } from './repository/append.ts';
import { countByGroupAndBucket } from './repository/event-counts.ts';
import * as reads from './repository/event-reads.ts';
import { type Projection, projectionOf } from './repository/event-rows.ts';
import type { TokenSigner } from './tokens.ts';
import { requireScope, requireWholeTenant, type Viewer } from './viewer.ts';

export type { EventFilter } from './filters.ts';
export type { LiveTailLimits, TailItem } from './live-tail.ts';
export type { EventOrder, OrderField, Position } from './model.ts';

export const PAGE = { defaultSize: 50, maxSize: 500 } as const;
export const MAX_BATCH = 1000;
/** Most events one call may look up by id (a page's worth). */
export const MAX_IDS = PAGE.maxSize;
export { MAX_FILTER_VALUES } from './filters.ts';

export type ConnectionArgs = {
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
};

/** What every projected read holds: the id, and what the GraphQL layer recognises an event by. */
const ALWAYS_READ = ['id', 'sequence', 'occurredAt'] as const satisfies readonly EventField[];

/** The event field that holds each order's sort key (positionOf reads it for the cursor). */
const ORDER_KEY_FIELD = {
  occurredAt: 'occurredAt',
  action: 'action',
  actor: 'actor',
  targetKind: 'target',
  group: 'groupId',
} as const satisfies Record<OrderField, EventField>;

/** What a listing in `order` reads for a caller that reads `fields`; every column when absent. */
function listingProjection(
  fields: Iterable<EventField> | undefined,
  order: EventOrder,
): Projection | undefined {
  return fields && projectionOf([...fields, ...ALWAYS_READ, ORDER_KEY_FIELD[order.field]]);
}

export type Edge = { cursor: string; node: AuditEvent };
export type EventConnection = {
  edges: Edge[];
  /**
   * Where a live tail continues this page: the tenant's head as read in the page's snapshot.
   * Set when asked for (`withStreamPosition`).
   */
  streamPosition?: string;
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
};

export type RecordResult =
  | { ok: true; event: AuditEvent; replayed: boolean }
  | { ok: false; error: ValidationError | ConflictError };

export type AvailableFilters = {
  actions: string[];
  targetKinds: { name: string; actions: string[] }[];
  actorTypes: string[];
  earliest: Date | null;
  latest: Date | null;
};

export type AuditServiceOptions = {
  db: Db;
  tokens: TokenSigner;
  /** The chain's owner: decides, after each append, whether the new head is due a checkpoint. */
  chain: Pick<ChainService, 'checkpointIfDueAfterAppend'>;
  /** Told after each commit of new events (wakes the log stream worker). */
  onCommitted?: ((tenantId: number, headSeq: number) => void) | undefined;
  /** How long a read with filter.search may run before it is stopped (default 10 s). */
  searchTimeoutMs?: number | undefined;
  /** Where every read leaves its record (who read the trail). */
  readLog: Pick<ReadLog, 'record'>;
  /** Send a commit notification (pg_notify) from each append, for the live tails of every instance. */
  notifyCommits?: boolean;
  /** The live tail's limits, and how a stream's viewer is checked again while it is open. */
  liveTail: LiveTailLimits & Pick<LiveTailOptions, 'recheck' | 'onReadError'>;
};

/** Fields the server supplies for a caller that left them empty; see `recordEvent`. */
export type DerivedFields = {
  ipAddress?: string | null;
  /** Sign the head this event makes at once (NewEvent.signNow); never taken from input. */
  signNow?: boolean;
};

type StreamOptions = { after?: Position | undefined; limit?: number | undefined; batchSize?: number };

export class AuditService {
  readonly #db: Db;
  readonly #cursors: Cursors;
  readonly #committer: GroupCommitter;
  readonly #bound: reads.SearchBound;
  readonly #readLog: Pick<ReadLog, 'record'>;
  /** The live tail's engine; the gateway hands it commit notifications and closes it. */
  readonly liveTail: LiveTail;

  constructor(options: AuditServiceOptions) {
    this.#db = options.db;
    this.#bound = { searchTimeoutMs: options.searchTimeoutMs ?? 10_000 };
    this.#readLog = options.readLog;
    this.#cursors = new Cursors(options.tokens);
    this.liveTail = new LiveTail({
      ...options.liveTail,
      db: options.db,
      cursorOf: (tenantId, seq) => this.#cursors.encodeStreamPosition(tenantId, seq),
    });
    const notify = options.notifyCommits ?? false;
    this.#committer = new GroupCommitter(async (tenantId, events) => {
      const { outcomes, head } = await appendEvents(
        this.#db,
        tenantId,
        events,
        {
          seal: sealEvent,
          checkpoint: (head, now) =>
            options.chain.checkpointIfDueAfterAppend(
              tenantId,
              head,
              now,
              events.some((e) => e.signNow),
            ),
        },
        { notify },
      );
      recordChainAppend(outcomes);
      this.liveTail.wake(tenantId, head.seq);
      options.onCommitted?.(tenantId, head.seq);
      return outcomes;
    }, 2 * MAX_BATCH);
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** A Relay connection page. Cursors are signed and bound to this tenant, filter and order. */
  async listEvents(
    viewer: Viewer,
    filterIn: EventFilter,
    order: EventOrder,
    args: ConnectionArgs,
    {
      withStreamPosition = false,
      fields,
    }: {
      withStreamPosition?: boolean;
      /** The event fields the caller will read; every field when absent. */
      fields?: Iterable<EventField> | undefined;
    } = {},
  ): Promise<EventConnection> {
    requireScope(viewer, 'read');
    const { tenantId, restriction } = viewer;
    const filter = validateFilter(filterIn, 'filter');
    const { first, last } = pageSize(args);
    const queryKey = this.#cursors.queryKey(filter, order, restriction);
    const after =
      args.after != null ? this.#cursors.decodeCursor(tenantId, args.after, 'after', queryKey) : undefined;
    const before =
      args.before != null ? this.#cursors.decodeCursor(tenantId, args.before, 'before', queryKey) : undefined;
    const backward = last !== undefined;
    const size = backward ? last : first;
    const query = {
      ...this.#bound,
      filter,
      restriction,
      order,
      after: backward ? before : after,
      until: backward ? after : before,
      reverse: backward,
      limit: size + 1,
      // A cursor is made of the order's key, the occurrence time and the id.
      projection: listingProjection(fields, order),
    };
    let rows: AuditEvent[];
    let streamPosition: string | undefined;
    if (withStreamPosition) {
      const read = await reads.listEventsWithHead(this.#db, tenantId, query);
      rows = read.events;
      streamPosition = this.#cursors.encodeStreamPosition(tenantId, read.headSeq);
    } else {
      rows = await reads.listEvents(this.#db, tenantId, query);
    }
    const more = rows.length > size;
    const page = rows.slice(0, size);
    if (backward) page.reverse();
    this.#readLog.record(viewer, 'events', { ...filter, order }, page.length);
    const edges = page.map((node) => ({
      cursor: this.#cursors.encodeCursor(tenantId, queryKey, node, order.field),
      node,
    }));
    return {
      edges,
      ...(streamPosition === undefined ? {} : { streamPosition }),
      pageInfo: {
        hasNextPage: backward ? before !== undefined : more,
        hasPreviousPage: backward ? more : after !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  async countEvents(viewer: Viewer, filterIn: EventFilter): Promise<number> {
    requireScope(viewer, 'read');
    const filter = validateFilter(filterIn, 'filter');
    const count = await reads.countEvents(this.#db, viewer.tenantId, filter, viewer.restriction, this.#bound);
    this.#readLog.record(viewer, 'count', filter, 0);
    return count;
  }

  /**
   * Counts of the viewer's matching events, grouped and bucketed (src/audit/counts.ts says how);
   * the groups, "other" and the buckets each add up to the total.
   */
  async countEventsBy(viewer: Viewer, filter: EventFilter, request: CountRequest): Promise<EventCounts> {
    requireScope(viewer, 'read');
    const query = checkCountRequest(validateFilter(filter, 'filter'), request, new Date());
    const { rows, bucketStarts, groups } = await countByGroupAndBucket(
      this.#db,
      viewer.tenantId,
      query,
      viewer.restriction,
      this.#bound,
    );
    this.#readLog.record(viewer, 'count', { ...query.filter, groupBy: query.groupBy }, 0);
    return assembleCounts(query, rows, bucketStarts, Math.max(0, groups - query.first));
  }

  /**
   * Batch-shaped for DataLoader: same length and order as `ids`. An id of another tenant, or
   * outside a restricted viewer's slice, is null, exactly like one that does not exist. At most
   * MAX_IDS ids per call; `field` names the argument in the refusal.
   */
  async loadEvents(
    viewer: Viewer,
    ids: readonly string[],
    field = 'ids',
    fields?: Iterable<EventField>,
  ): Promise<(AuditEvent | null)[]> {
    requireScope(viewer, 'read');
    if (ids.length > MAX_IDS) {
      throw new ValidationError(field, `must list at most ${MAX_IDS} event ids per request`);
    }
    const projection: Projection | undefined = fields && projectionOf([...fields, ...ALWAYS_READ]);
    const events = await reads.getEventsByIds(this.#db, viewer.tenantId, ids, viewer.restriction, projection);
    this.#readLog.record(viewer, 'lookup', { ids }, events.filter((e) => e !== null).length);
    return events;
  }

  /** One event by id; null when it does not exist or the viewer may not see it. */
  async getEvent(viewer: Viewer, id: string): Promise<AuditEvent | null> {
    const [event] = await this.loadEvents(viewer, [id], 'id');
    return event ?? null;
  }

  /**
   * Streams every matching event in keyset batches, so a caller can write an unbounded answer
   * with bounded memory. Stops after `limit` events when given; `after` resumes a stream.
   */
  streamEvents(
    viewer: Viewer,
    filterIn: EventFilter,
    order: EventOrder,
    opts: StreamOptions = {},
  ): AsyncGenerator<AuditEvent[]> {
    // Checked here, not in the generator, so a refusal comes before anything is streamed.
    requireScope(viewer, 'read');
    return this.#stream(viewer, validateFilter(filterIn, 'filter'), order, opts);
  }

  /** One record per stream, when it ends (or is abandoned), with the events it handed out. */
  async *#stream(
    viewer: Viewer,
    filter: EventFilter,
    order: EventOrder,
    opts: StreamOptions,
  ): AsyncGenerator<AuditEvent[]> {
    const { tenantId, restriction } = viewer;
    const batchSize = opts.batchSize ?? 2000;
    let after = opts.after;
    let remaining = opts.limit ?? Number.POSITIVE_INFINITY;
    let streamed = 0;
    try {
      while (remaining > 0) {
        const rows = await reads.listEvents(this.#db, tenantId, {
          ...this.#bound,
          filter,
          restriction,
          order,
          after,
          limit: Math.min(batchSize, remaining),
        });
        if (rows.length === 0) return;
        remaining -= rows.length;
        streamed += rows.length;
        yield rows;
        if (rows.length < batchSize) return;
        after = positionOf(rows.at(-1) as AuditEvent, order.field);
      }
    } finally {
      this.#readLog.record(
        viewer,
        'events',
        { ...filter, order, ...(opts.after ? { after: opts.after } : {}) },
        streamed,
      );
    }
  }

  /**
   * The live tail: every event committed after `after` (a page's `streamPosition` or a cursor an
   * earlier stream delivered; omitted: the current head) that passes the filter and the
   * viewer's restriction, in commit order, with no gap and no duplicate. The last item, when the
   * server ends the stream (limit, token expiry, key revocation, too slow, shutdown), carries the
   * reason and the cursor to resume from. StreamLimitError when too many streams are open.
   */
  async tailEvents(
    viewer: Viewer,
    filterIn: EventFilter,
    after: string | null | undefined,
  ): Promise<AsyncIterableIterator<TailItem>> {
    requireScope(viewer, 'read');
    const filter = validateFilter(filterIn, 'filter');
    // The shared reader matches new events in memory (eventMatches), which knows every list
    // filter but not free text; refused rather than silently ignored.
    if (filter.search)
      throw new ValidationError(
        'filter.search',
        'is not supported on the live tail yet; page auditEvents with it, or tail without it',
      );
    const afterSeq =
      after != null ? this.#cursors.decodeStreamPosition(viewer.tenantId, after, 'after') : undefined;
    // Two records per stream: one when it opens (it may stay open for days, and a crash would
    // lose a record kept for the end) and one when it ends, with how many events it delivered.
    const read = { ...filter, ...(afterSeq === undefined ? {} : { afterSequence: afterSeq }) };
    const openedAt = new Date();
    const stream = await this.liveTail.subscribe(viewer, filter, afterSeq, (delivered, reason) =>
      this.#readLog.record(viewer, 'tail', { ...read, openedAt, endedBy: reason ?? 'client' }, delivered),
    );
    this.#readLog.record(viewer, 'tail', read, 0);
    return stream;
  }

  /** OFFSET paging with an exact total, for the page-numbered dialect. */
  async pageByOffset(
    viewer: Viewer,
    filterIn: EventFilter,
    order: EventOrder,
    offset: number,
    limit: number,
    /** The event fields the caller will read (its shape); every field when absent. */
    fields?: Iterable<EventField>,
  ): Promise<{ events: AuditEvent[]; total: number }> {
    requireScope(viewer, 'read');
    const { tenantId, restriction } = viewer;
    const filter = validateFilter(filterIn, 'filter');
    const [events, total] = await Promise.all([
      reads.listEventsByOffset(this.#db, tenantId, {
        ...this.#bound,
        filter,
        restriction,
        order,
        offset,
        limit,
        projection: listingProjection(fields, order),
      }),
      reads.countEvents(this.#db, tenantId, filter, restriction, this.#bound),
    ]);
    this.#readLog.record(viewer, 'events', { ...filter, order, offset, limit }, events.length);
    return { events, total };
  }

  /** What the viewer's events hold; a restricted viewer learns only about its own slice. */
  async availableFilters(viewer: Viewer): Promise<AvailableFilters> {
    requireScope(viewer, 'read');
    const { entries, earliest, latest } = await reads.getCatalog(
      this.#db,
      viewer.tenantId,
      viewer.restriction,
    );
    const actions = new Set<string>();
    const kinds = new Map<string, Set<string>>();
    const actorTypes = new Set<string>();
    for (const e of entries) {
      actions.add(e.action);
      if (e.actorType) actorTypes.add(e.actorType);
      if (!e.targetKind) continue;
      const set = kinds.get(e.targetKind) ?? new Set<string>();
      set.add(e.action);
      kinds.set(e.targetKind, set);
    }
    const sorted = (s: Iterable<string>) => [...s].sort();
    this.#readLog.record(viewer, 'catalog', {}, 0);
    return {
      actions: sorted(actions),
      targetKinds: sorted(kinds.keys()).map((name) => ({ name, actions: sorted(kinds.get(name) ?? []) })),
      actorTypes: sorted(actorTypes),
      earliest,
      latest,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  /**
   * Validates and stores one event; throws ValidationError or ConflictError. `derived` holds what
   * the server fills in when the input leaves it empty (the client's address): it is not part of
   * the idempotency fingerprint, so a retry of the same request from another address finds the
   * original instead of conflicting with it.
   */
  async recordEvent(
    viewer: Viewer,
    raw: unknown,
    field = 'input',
    derived: DerivedFields = {},
  ): Promise<{ event: AuditEvent; replayed: boolean }> {
    const tenantId = this.#recorder(viewer);
    const [result] = await this.#store(tenantId, [this.#prepare(tenantId, raw, field, derived)]);
    if (!result) throw new Error('no result for a recorded event');
    if (!result.ok) throw result.error;
    return { event: result.event, replayed: result.replayed };
  }

  /**
   * Stores a batch: one result per input, in order. An invalid input gets its own validation
   * error and does not stop the valid ones.
   */
  async recordEvents(viewer: Viewer, raws: unknown[], field = 'inputs'): Promise<RecordResult[]> {
    const tenantId = this.#recorder(viewer);
    if (raws.length > MAX_BATCH) throw new ValidationError(field, `must hold at most ${MAX_BATCH} events`);
    const prepared = raws.map((raw, i) => {
      try {
        return this.#prepare(tenantId, raw, `${field}[${i}]`);
      } catch (error) {
        if (error instanceof ValidationError) return error;
        throw error;
      }
    });
    const valid = prepared.filter((p): p is NewEvent => !(p instanceof ValidationError));
    const stored = await this.#store(tenantId, valid);
    let next = 0;
    return prepared.map((p) =>
      p instanceof ValidationError ? { ok: false, error: p } : (stored[next++] as RecordResult),
    );
  }

  /** Resolves once every accepted event is committed (graceful shutdown). */
  drain(): Promise<void> {
    return this.#committer.whenIdle();
  }

  /**
   * The tenant a viewer records into. Recording needs `write` and the whole tenant: a replayed
   * idempotency key answers with the stored event, which may lie outside a restricted slice.
   */
  #recorder(viewer: Viewer): number {
    requireScope(viewer, 'write');
    requireWholeTenant(viewer, 'Recording events');
    return viewer.tenantId;
  }

  #prepare(tenantId: number, raw: unknown, field: string, derived: DerivedFields = {}): NewEvent {
    const input = parseEventInput(raw, field);
    const receivedAt = new Date();
    const { idempotencyKey, ...rest } = input;
    return {
      ...rest,
      id: uuidv7(),
      tenantId,
      ipAddress: input.ipAddress ?? derived.ipAddress ?? null,
      occurredAt: input.occurredAt ?? receivedAt,
      receivedAt,
      idempotencyKey,
      requestHash: idempotencyKey ? requestHash(input) : null,
      ...(derived.signNow ? { signNow: true } : {}),
    };
  }

  async #store(tenantId: number, events: NewEvent[]): Promise<RecordResult[]> {
    if (events.length === 0) return [];
    recordIngestBatch(events.length);
    const outcomes = await this.#committer.submit(tenantId, events);
    return outcomes.map((o) =>
      o.kind === 'conflict'
        ? {
            ok: false,
            error: new ConflictError(
              'idempotencyKey',
              `the key ${JSON.stringify(o.idempotencyKey)} was already used for a different event`,
            ),
          }
        : { ok: true, event: o.event, replayed: o.kind === 'replayed' },
    );
  }

  // -------------------------------------------------------------------------------------------
  // Continuation tokens (Mural's nextToken): the listing's query travels in the token

  /** A token that continues a time-ordered listing of this viewer's tenant after `last`. */
  continuationToken(viewer: Viewer, query: Record<string, unknown>, last: AuditEvent): string {
    return this.#cursors.encodeContinuation(viewer.tenantId, query, last);
  }

  /** The query and position a continuation token carries, or null when it is not this tenant's. */
  readContinuation(viewer: Viewer, token: string): Continuation<Record<string, unknown>> | null {
    return this.#cursors.decodeContinuation(viewer.tenantId, token);
  }
}

function pageSize(args: ConnectionArgs): { first: number; last?: never } | { first?: never; last: number } {
  const check = (name: string, n: number) => {
    if (!Number.isInteger(n) || n < 0 || n > PAGE.maxSize) {
      throw new ValidationError(name, `must be between 0 and ${PAGE.maxSize}`);
    }
    return n;
  };
  if (args.first != null && args.last != null) {
    throw new ValidationError(
      'last',
      'cannot be combined with first; page forward with first/after or backward with last/before',
    );
  }
  if (args.last != null) return { last: check('last', args.last) };
  return { first: check('first', args.first ?? PAGE.defaultSize) };
}

/** Hash of a request as the client sent it: a retry hashes the same, a different event does not. */
function requestHash(input: EventInput): Buffer {
  const { idempotencyKey: _, ...rest } = input;
  return createHash('sha256')
    .update(canonicalize(rest) ?? '')
    .digest();
}
