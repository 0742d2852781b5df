// The audit service: the rules every surface shares. Tenancy (every method takes the tenant
// from the authenticated key), filter validation, keyset paging and cursors, ingest with
// idempotency, and the chain's checkpoints. GraphQL resolvers and REST dialects only parse
// their input, call one of these, and shape the answer.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../db/client.ts';
import { recordChainAppend, recordCheckpointSigned, recordIngestBatch } from '../metrics.ts';
import { sealEvent } from './chain.ts';
import { ConflictError, ValidationError } from './errors.ts';
import { GroupCommitter } from './group-commit.ts';
import { type AuditEvent, type EventInput, LIMITS, parseEventInput, textProblem } from './model.ts';
import type { ChainHead, EventFilter, EventOrder, OrderField, Position } from './repository.ts';
import * as repo from './repository.ts';
import type { ChainSigner, SignedStatement } from './signer.ts';
import type { TokenPurpose, TokenSigner } from './tokens.ts';

export type { EventFilter, EventOrder, OrderField, Position } from './repository.ts';

export const PAGE = { defaultSize: 50, maxSize: 500 } as const;
export const MAX_BATCH = 1000;
const MAX_FILTER_VALUES = 100;

export type ConnectionArgs = {
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
};

export type Edge = { cursor: string; node: AuditEvent };
export type EventConnection = {
  edges: Edge[];
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
  signer: ChainSigner;
  checkpointEveryEvents: number;
  checkpointIntervalSeconds: number;
};

/** Fields the server supplies for a caller that left them empty; see `recordEvent`. */
export type DerivedFields = { ipAddress?: string | null };

type CursorPayload = { q: string; k: string | null; t: number; i: string };

export class AuditService {
  readonly #db: Db;
  readonly #tokens: TokenSigner;
  readonly #signer: ChainSigner;
  readonly #committer: GroupCommitter;
  readonly #options: AuditServiceOptions;

  constructor(options: AuditServiceOptions) {
    this.#options = options;
    this.#db = options.db;
    this.#tokens = options.tokens;
    this.#signer = options.signer;
    this.#committer = new GroupCommitter(async (tenantId, events) => {
      const { outcomes } = await repo.appendEvents(this.#db, tenantId, events, {
        seal: sealEvent,
        checkpoint: (head, now) => this.#checkpointIfDue(tenantId, head, now),
      });
      recordChainAppend(outcomes);
      return outcomes;
    }, 2 * MAX_BATCH);
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  /** A Relay connection page. Cursors are signed and bound to this tenant, filter and order. */
  async listEvents(
    tenantId: number,
    filterIn: EventFilter,
    order: EventOrder,
    args: ConnectionArgs,
  ): Promise<EventConnection> {
    const filter = validateFilter(filterIn, 'filter');
    const { first, last } = pageSize(args);
    const queryKey = this.#queryKey(filter, order);
    const after =
      args.after != null ? this.#decodeCursor(tenantId, args.after, 'after', queryKey) : undefined;
    const before =
      args.before != null ? this.#decodeCursor(tenantId, args.before, 'before', queryKey) : undefined;
    const backward = last !== undefined;
    const size = backward ? last : first;
    const rows = await repo.listEvents(this.#db, tenantId, {
      filter,
      order,
      after: backward ? before : after,
      until: backward ? after : before,
      reverse: backward,
      limit: size + 1,
    });
    const more = rows.length > size;
    const page = rows.slice(0, size);
    if (backward) page.reverse();
    const edges = page.map((node) => ({
      cursor: this.#encodeCursor(tenantId, queryKey, node, order.field),
      node,
    }));
    return {
      edges,
      pageInfo: {
        hasNextPage: backward ? before !== undefined : more,
        hasPreviousPage: backward ? more : after !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  async countEvents(tenantId: number, filter: EventFilter): Promise<number> {
    return repo.countEvents(this.#db, tenantId, validateFilter(filter, 'filter'));
  }

  /** Batch-shaped for DataLoader: same length and order as `ids`; another tenant's id is null. */
  loadEvents(tenantId: number, ids: readonly string[]): Promise<(AuditEvent | null)[]> {
    return repo.getEventsByIds(this.#db, tenantId, ids);
  }

  async getEvent(tenantId: number, id: string): Promise<AuditEvent | null> {
    const [event] = await repo.getEventsByIds(this.#db, tenantId, [id]);
    return event ?? null;
  }

  /**
   * Streams every matching event in keyset batches, so a caller can write an unbounded answer
   * with bounded memory. Stops after `limit` events when given; `after` resumes a stream.
   */
  async *streamEvents(
    tenantId: number,
    filterIn: EventFilter,
    order: EventOrder,
    opts: { after?: Position | undefined; limit?: number | undefined; batchSize?: number } = {},
  ): AsyncGenerator<AuditEvent[]> {
    const filter = validateFilter(filterIn, 'filter');
    const batchSize = opts.batchSize ?? 2000;
    let after = opts.after;
    let remaining = opts.limit ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const rows = await repo.listEvents(this.#db, tenantId, {
        filter,
        order,
        after,
        limit: Math.min(batchSize, remaining),
      });
      if (rows.length === 0) return;
      remaining -= rows.length;
      yield rows;
      if (rows.length < batchSize) return;
      after = repo.positionOf(rows.at(-1) as AuditEvent, order.field);
    }
  }

  /** OFFSET paging with an exact total, for the page-numbered dialect. */
  async pageByOffset(
    tenantId: number,
    filterIn: EventFilter,
    order: EventOrder,
    offset: number,
    limit: number,
  ): Promise<{ events: AuditEvent[]; total: number }> {
    const filter = validateFilter(filterIn, 'filter');
    const [events, total] = await Promise.all([
      repo.listEventsByOffset(this.#db, tenantId, { filter, order, offset, limit }),
      repo.countEvents(this.#db, tenantId, filter),
    ]);
    return { events, total };
  }

  async availableFilters(tenantId: number): Promise<AvailableFilters> {
    const { entries, earliest, latest } = await repo.getCatalog(this.#db, tenantId);
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
    tenantId: number,
    raw: unknown,
    field = 'input',
    derived: DerivedFields = {},
  ): Promise<{ event: AuditEvent; replayed: boolean }> {
    const [result] = await this.#store(tenantId, [this.#prepare(tenantId, raw, field, derived)]);
    if (!result) throw new Error('no result for a recorded event');
    if (!result.ok) throw result.error;
    return { event: result.event, replayed: result.replayed };
  }

  /**
   * Stores a batch: one result per input, in order. An invalid input gets its own validation
   * error and does not stop the valid ones.
   */
  async recordEvents(tenantId: number, raws: unknown[], field = 'inputs'): Promise<RecordResult[]> {
    if (raws.length > MAX_BATCH) throw new ValidationError(field, `must hold at most ${MAX_BATCH} events`);
    const prepared = raws.map((raw, i) => {
      try {
        return this.#prepare(tenantId, raw, `${field}[${i}]`);
      } catch (error) {
        if (error instanceof ValidationError) return error;
        throw error;
      }
    });
    const valid = prepared.filter((p): p is repo.NewEvent => !(p instanceof ValidationError));
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

  #prepare(tenantId: number, raw: unknown, field: string, derived: DerivedFields = {}): repo.NewEvent {
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
    };
  }

  async #store(tenantId: number, events: repo.NewEvent[]): Promise<RecordResult[]> {
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
  // Chain checkpoints

  /** Signs the head if it moved and the interval passed; the periodic sweep calls this per tenant. */
  async checkpointIfDue(tenantId: number, force = false): Promise<ChainHead> {
    return repo.checkpointHead(this.#db, tenantId, (head, now) =>
      this.#checkpointIfDue(tenantId, head, now, force),
    );
  }

  listCheckpoints(tenantId: number, afterSeq: number | undefined, limit: number) {
    return repo.listCheckpoints(this.#db, tenantId, { afterSeq, limit });
  }

  #checkpointIfDue(tenantId: number, head: ChainHead, now: Date, force = false): SignedStatement | null {
    if (head.seq <= head.checkpointSeq) return null;
    const byCount = head.seq - head.checkpointSeq >= this.#options.checkpointEveryEvents;
    const age = head.checkpointAt ? now.getTime() - head.checkpointAt.getTime() : Number.POSITIVE_INFINITY;
    const byTime = age >= this.#options.checkpointIntervalSeconds * 1000;
    if (!force && !byCount && !byTime) return null;
    recordCheckpointSigned();
    return this.#signer.sign({
      type: 'checkpoint',
      tenant: tenantId,
      seq: head.seq,
      hash: head.hash,
      time: now.toISOString(),
    });
  }

  // -------------------------------------------------------------------------------------------
  // Tokens

  signToken(purpose: TokenPurpose, tenantId: number, payload: unknown): string {
    return this.#tokens.sign(purpose, tenantId, payload);
  }

  verifyToken(purpose: TokenPurpose, tenantId: number, token: string): unknown {
    return this.#tokens.verify(purpose, tenantId, token);
  }

  #queryKey(filter: EventFilter, order: EventOrder): string {
    return createHash('sha256')
      .update(canonicalize({ filter, order }) ?? '')
      .digest('base64url')
      .slice(0, 16);
  }

  #encodeCursor(tenantId: number, queryKey: string, event: AuditEvent, field: OrderField): string {
    const p = repo.positionOf(event, field);
    const payload: CursorPayload = { q: queryKey, k: p.key, t: p.at.getTime(), i: p.id };
    return this.#tokens.sign('cursor', tenantId, payload);
  }

  #decodeCursor(tenantId: number, cursor: string, arg: string, queryKey: string): Position {
    const p = this.#tokens.verify('cursor', tenantId, cursor) as CursorPayload | null;
    if (
      !p ||
      typeof p !== 'object' ||
      typeof p.t !== 'number' ||
      typeof p.i !== 'string' ||
      !repo.isUuid(p.i)
    ) {
      throw new ValidationError(arg, 'is not a valid cursor for this connection');
    }
    if (p.q !== queryKey) {
      throw new ValidationError(arg, 'belongs to a different filter or order; start again without a cursor');
    }
    return { key: typeof p.k === 'string' ? p.k : null, at: new Date(p.t), id: p.i };
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

/** Checks filter values: bounded lists of storable strings and a time window that is not inverted. */
export function validateFilter(f: EventFilter, field: string): EventFilter {
  const lists = [
    'actions',
    'actorIds',
    'actorEmails',
    'targetKinds',
    'targetIds',
    'groupIds',
    'ipAddresses',
  ] as const;
  for (const name of lists) {
    const values = f[name];
    if (!values) continue;
    if (values.length > MAX_FILTER_VALUES) {
      throw new ValidationError(`${field}.${name}`, `must list at most ${MAX_FILTER_VALUES} values`);
    }
    for (const v of values) {
      const problem =
        v.length === 0
          ? 'must not contain empty strings'
          : v.length > LIMITS.email
            ? 'values are too long'
            : textProblem(v, true);
      if (problem) throw new ValidationError(`${field}.${name}`, problem);
    }
  }
  if (f.since && f.until && f.since.getTime() > f.until.getTime()) {
    throw new ValidationError(`${field}.until`, 'must not be before since');
  }
  return f;
}

/** Hash of a request as the client sent it: a retry hashes the same, a different event does not. */
function requestHash(input: EventInput): Buffer {
  const { idempotencyKey: _, ...rest } = input;
  return createHash('sha256')
    .update(canonicalize(rest) ?? '')
    .digest();
}
