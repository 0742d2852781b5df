// The live tail's engine: hands each subscriber every committed event of its tenant after its
// position that passes its filter and restriction, in sequence (commit) order, with no gap and no
// duplicate. One reader per tenant reads new events by sequence and fans them out in memory;
// a commit notification (Postgres NOTIFY from any instance, or an in-process call after a local
// commit) only wakes it, and a poll wakes it anyway, so a lost notification delays but never
// drops. A subscriber that starts behind the reader (a resumed cursor) catches up with its own
// reads, at its own pace, before it joins the fan-out. The service (service.ts) authorizes and
// validates before anything here runs.
import type { Database, Db } from '../db/client.ts';
import {
  DomainError,
  ShuttingDownError,
  SlowConsumerError,
  StreamEndedError,
  StreamLimitError,
} from '../errors.ts';
import { liveStreamClosed, liveStreamOpened, recordLiveStreamDelivered } from '../metrics.ts';
import { type EventFilter, eventMatches } from './filters.ts';
import type { AuditEvent } from './model.ts';
import { COMMIT_CHANNEL } from './repository/append.ts';
import { getHeadSequence, listEventsBySequence } from './repository/event-reads.ts';
import type { Viewer } from './viewer.ts';

export type LiveTailLimits = {
  /** Wake every tenant reader this often even without a notification (the safety net). */
  pollMs: number;
  /** Check every subscriber's key (revoked?) and token (expired?) this often. */
  recheckMs: number;
  /** Events waiting for one subscriber beyond which it is closed with SLOW_CONSUMER. */
  queueLimit: number;
  /** Concurrent streams per API key (its viewer tokens count against their key). */
  perKey: number;
  /** Concurrent streams per tenant. */
  perTenant: number;
};

export type LiveTailOptions = LiveTailLimits & {
  db: Db;
  /** The cursor of a place in a tenant's commit order (Cursors.encodeStreamPosition). */
  cursorOf: (tenantId: number, seq: number) => string;
  /** Throws (UnauthenticatedError) once a viewer is no longer valid: token expired, key revoked. */
  recheck: (viewer: Viewer) => Promise<void>;
  /** Told when a reader's read fails (the database is down); the next wake-up tries again. */
  onReadError?: (error: unknown) => void;
};

/** What a stream yields: an event with its cursor, or, last of all, why the server ended it. */
export type TailItem = { cursor: string; node: AuditEvent } | { ended: StreamEndedError };

/** How a stream ended: the events it delivered, and the code of the server's reason (none: the client left). */
export type StreamClosed = (delivered: number, reason: string | undefined) => void;

/** Hands in notifications of commits on any instance (Database.listen on Postgres). */
export type CommitListener = Database['listen'];

/** Events one read takes from the database. */
const READ_BATCH = 500;

export class LiveTail {
  readonly #readers = new Map<number, TenantReader>();
  readonly #perKey = new Map<string, number>();
  readonly #perTenant = new Map<number, number>();
  #unlisten: (() => Promise<void>) | undefined;
  #closed = false;
  /** One recheck per key (and token) per half interval, shared by all its streams. */
  readonly #rechecks = new Map<string, { at: number; done: Promise<void> }>();

  constructor(readonly options: LiveTailOptions) {}

  /**
   * Whether a stream's viewer is still valid. Streams of the same key and token share one check
   * made within the last half interval: a thousand streams of ten keys cost ten key lookups.
   */
  recheck(viewer: Viewer): Promise<void> {
    const id = `${viewer.keyId}/${viewer.token?.id ?? ''}`;
    const now = Date.now();
    const recent = this.#rechecks.get(id);
    if (recent && now - recent.at < this.options.recheckMs / 2) return recent.done;
    const done = this.options.recheck(viewer);
    this.#rechecks.set(id, { at: now, done });
    // Forget it once it is due again, so the map holds only keys with open streams.
    setTimeout(() => {
      if (this.#rechecks.get(id)?.done === done) this.#rechecks.delete(id);
    }, this.options.recheckMs).unref();
    return done;
  }

  /** Listens for commits of other instances (and this one's, on Postgres). */
  async listen(listener: CommitListener | undefined): Promise<void> {
    if (!listener) return;
    this.#unlisten = await listener(
      COMMIT_CHANNEL,
      (payload) => {
        const [tenant, seq] = payload.split(':').map(Number);
        if (Number.isSafeInteger(tenant) && Number.isSafeInteger(seq)) this.wake(tenant as number, seq);
      },
      // (Re)connected: anything committed while the LISTEN was down was not announced.
      () => {
        for (const reader of this.#readers.values()) reader.wake();
      },
    );
  }

  /** A commit of `tenantId` reached `seq` (or something may have: no seq). */
  wake(tenantId: number, seq?: number): void {
    this.#readers.get(tenantId)?.wake(seq);
  }

  /** Streams open on this instance. */
  get openStreams(): number {
    let n = 0;
    for (const r of this.#readers.values()) n += r.subscribers.size;
    return n;
  }

  /** Streams of one tenant open on this instance. */
  openStreamsOf(tenantId: number): number {
    return this.#readers.get(tenantId)?.subscribers.size ?? 0;
  }

  /**
   * Opens a stream of the viewer's events after `afterSeq` (undefined: the current head) that
   * pass `filter` (validated) and the viewer's restriction. StreamLimitError when the key or
   * tenant has as many open as allowed. `onClose` is told once, when the stream ends for any
   * reason, how many events it delivered and the code of the server's reason (none when the client
   * went away).
   */
  async subscribe(
    viewer: Viewer,
    filter: EventFilter,
    afterSeq: number | undefined,
    onClose?: StreamClosed,
  ): Promise<Subscription> {
    if (this.#closed) throw new ShuttingDownError();
    const { perKey, perTenant } = this.options;
    const keyCount = this.#perKey.get(viewer.keyId) ?? 0;
    const tenantCount = this.#perTenant.get(viewer.tenantId) ?? 0;
    if (keyCount >= perKey) {
      throw new StreamLimitError(
        `This API key already has ${keyCount} live streams open on this instance (the limit is ${perKey}); close one first`,
      );
    }
    if (tenantCount >= perTenant) {
      throw new StreamLimitError(
        `This tenant already has ${tenantCount} live streams open on this instance (the limit is ${perTenant}); close one first`,
      );
    }
    // Counted before the first await, so concurrent subscribes cannot all pass the check.
    this.#perKey.set(viewer.keyId, keyCount + 1);
    this.#perTenant.set(viewer.tenantId, tenantCount + 1);
    const release = () => {
      decrement(this.#perKey, viewer.keyId);
      decrement(this.#perTenant, viewer.tenantId);
    };
    try {
      const head = await getHeadSequence(this.options.db, viewer.tenantId);
      let reader = this.#readers.get(viewer.tenantId);
      if (!reader) {
        reader = new TenantReader(this, viewer.tenantId, head, () => this.#readers.delete(viewer.tenantId));
        this.#readers.set(viewer.tenantId, reader);
      }
      const sub = new Subscription(reader, viewer, filter, afterSeq ?? head, release, onClose);
      reader.add(sub);
      return sub;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Ends every open stream (graceful shutdown) and stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const reader of [...this.#readers.values()]) {
      for (const sub of [...reader.subscribers]) sub.end(new ShuttingDownError());
    }
    await this.#unlisten?.().catch(() => {});
  }
}

function decrement<K>(counts: Map<K, number>, key: K): void {
  const n = (counts.get(key) ?? 1) - 1;
  if (n <= 0) counts.delete(key);
  else counts.set(key, n);
}

/** Reads one tenant's new events by sequence for all its subscribers on this instance. */
class TenantReader {
  readonly subscribers = new Set<Subscription>();
  #running: Promise<void> | undefined;
  #again = false;
  readonly #poll: NodeJS.Timeout;

  constructor(
    readonly tail: LiveTail,
    readonly tenantId: number,
    /** Every event up to this sequence number has been read and offered to the live subscribers. */
    public position: number,
    private readonly onIdle: () => void,
  ) {
    this.#poll = setInterval(() => this.wake(), tail.options.pollMs);
    this.#poll.unref();
  }

  add(sub: Subscription): void {
    this.subscribers.add(sub);
  }

  remove(sub: Subscription): void {
    this.subscribers.delete(sub);
    if (this.subscribers.size === 0) {
      clearInterval(this.#poll);
      this.onIdle();
    }
  }

  wake(seq?: number): void {
    if (seq !== undefined && seq <= this.position) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#read().finally(() => {
      this.#running = undefined;
      if (this.#again && this.subscribers.size > 0) {
        this.#again = false;
        this.wake();
      }
    });
  }

  async #read(): Promise<void> {
    const { db, onReadError } = this.tail.options;
    try {
      while (this.subscribers.size > 0) {
        const events = await listEventsBySequence(db, this.tenantId, {
          afterSeq: this.position,
          limit: READ_BATCH,
        });
        for (const e of events) {
          for (const sub of this.subscribers) sub.offer(e);
          this.position = e.sequence;
        }
        if (events.length < READ_BATCH) return;
      }
    } catch (error) {
      onReadError?.(error);
    }
  }

  /**
   * Reads a subscriber's backlog up to this reader's position with its own filter, at most what
   * its queue may hold. Once it reaches the position it is live: later events come from `#read`.
   */
  async catchUp(sub: Subscription): Promise<void> {
    const through = this.position;
    const limit = Math.min(READ_BATCH, this.tail.options.queueLimit);
    const events = await listEventsBySequence(this.tail.options.db, this.tenantId, {
      afterSeq: sub.position,
      throughSeq: through,
      filter: sub.filter,
      restriction: sub.viewer.restriction,
      limit,
    });
    sub.caughtUp(events, events.length < limit ? through : undefined);
  }
}

/**
 * One open stream, as the async iterator GraphQL subscribes to. Events wait in a bounded queue
 * until the transport pulls them (it pulls only as fast as the client's socket takes them).
 */
export class Subscription implements AsyncIterableIterator<TailItem> {
  /** The highest sequence number this stream has queued or skipped. */
  position: number;
  #lastCursor: string;
  #queue: AuditEvent[] = [];
  #live = false;
  #ended: StreamEndedError | undefined;
  #done = false;
  #wakeConsumer: (() => void) | undefined;
  /** Events handed to the transport so far. */
  #delivered = 0;
  readonly #recheck: NodeJS.Timeout;
  readonly #expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly reader: TenantReader,
    readonly viewer: Viewer,
    readonly filter: EventFilter,
    start: number,
    private readonly release: () => void,
    private readonly onClose: StreamClosed | undefined,
  ) {
    this.position = start;
    this.#lastCursor = reader.tail.options.cursorOf(viewer.tenantId, start);
    this.#live = start >= reader.position;
    const { recheckMs } = reader.tail.options;
    const check = () => {
      reader.tail.recheck(viewer).catch((error: DomainError) => this.end(error));
    };
    this.#recheck = setInterval(check, recheckMs);
    this.#recheck.unref();
    // A token ends at its expiry, not at the next periodic check.
    const left = viewer.token ? viewer.token.expiresAt.getTime() - Date.now() : undefined;
    if (left !== undefined && left < 2 ** 31 - 1) {
      // Not the shared check: one made just before the expiry would still say "valid".
      const atExpiry = () => {
        reader.tail.options.recheck(viewer).catch((error: DomainError) => this.end(error));
      };
      this.#expiry = setTimeout(atExpiry, Math.max(0, left) + 5);
      this.#expiry.unref();
    }
    liveStreamOpened();
  }

  /** A newly read event from the tenant reader (only while live). */
  offer(e: AuditEvent): void {
    if (!this.#live || e.sequence <= this.position) return;
    this.position = e.sequence;
    if (!eventMatches(e, this.filter, this.viewer.restriction)) return;
    const { queueLimit } = this.reader.tail.options;
    if (this.#queue.length >= queueLimit) {
      this.end(
        new SlowConsumerError(
          `The stream fell more than ${queueLimit} events behind its tenant's commits; resume with \`after\` set to \`lastCursor\``,
        ),
      );
      return;
    }
    this.#queue.push(e);
    this.#wake();
  }

  /** The backlog a catch-up read found; `through` is set when it read all of it up to there. */
  caughtUp(events: AuditEvent[], through: number | undefined): void {
    if (this.#done || this.#ended) return;
    for (const e of events) {
      if (e.sequence > this.position) {
        this.#queue.push(e);
        this.position = e.sequence;
      }
    }
    if (through !== undefined) {
      this.position = Math.max(this.position, through);
      // Synchronously with the check, so no read of the reader slips in between.
      if (this.position >= this.reader.position) this.#live = true;
    }
  }

  /** Ends the stream with a reason the client sees, and the cursor to resume from. */
  end(reason: DomainError): void {
    if (this.#done || this.#ended) return;
    this.#ended = new StreamEndedError(reason, this.#lastCursor);
    this.#queue = [];
    this.#detach(reason.code);
    this.#wake();
  }

  async next(): Promise<IteratorResult<TailItem>> {
    for (;;) {
      if (this.#done) return { done: true, value: undefined };
      const e = this.#queue.shift();
      if (e) {
        this.#lastCursor = this.reader.tail.options.cursorOf(this.viewer.tenantId, e.sequence);
        recordLiveStreamDelivered(1);
        this.#delivered += 1;
        return { done: false, value: { cursor: this.#lastCursor, node: e } };
      }
      if (this.#ended) {
        this.#done = true;
        return { done: false, value: { ended: this.#ended } };
      }
      if (!this.#live) {
        try {
          await this.reader.catchUp(this);
        } catch (error) {
          // The database is down (DatabaseUnavailableError): end with the cursor to resume from.
          if (!(error instanceof DomainError)) throw error;
          this.end(error);
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        this.#wakeConsumer = resolve;
      });
    }
  }

  /** The client went away (or the transport stopped): stop at once. */
  async return(): Promise<IteratorResult<TailItem>> {
    if (!this.#ended) this.#detach(undefined);
    this.#done = true;
    this.#queue = [];
    this.#wake();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #wake(): void {
    const wake = this.#wakeConsumer;
    this.#wakeConsumer = undefined;
    wake?.();
  }

  #detached = false;

  #detach(reason: string | undefined): void {
    if (this.#detached) return;
    this.#detached = true;
    clearInterval(this.#recheck);
    clearTimeout(this.#expiry);
    this.reader.remove(this);
    this.release();
    liveStreamClosed(reason);
    // Whatever was queued and not delivered is dropped with the queue; the count is final.
    this.onClose?.(this.#delivered, reason);
  }
}
