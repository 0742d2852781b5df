// Delivers log streams: one worker per gateway process. Every poll (and right after a local
// commit) it looks for streams that are due, takes each one's lease, and sends the events after
// the stream's position in batches, in sequence order, advancing the position only after the
// destination acknowledged. A crash between the two redelivers the batch (at least once); a
// failure retries with capped exponential backoff and jitter. The lease (a row per stream,
// renewed every batch, longer than any single delivery may take) lets exactly one instance
// deliver a stream at a time, on Postgres across processes and on PGlite within one.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import {
  claimLease,
  findDueStreams,
  readPendingBatch,
  recordDelivered,
  recordFailure,
  releaseLeases,
  type StreamForDelivery,
  type StreamRef,
} from './repository.ts';
import type { Sink } from './sink.ts';
import { toStreamedEvent } from './sink.ts';
import { openSink } from './sinks.ts';

export type WorkerOptions = {
  db: Db;
  logger: Logger;
  pollMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  batchSize?: number;
  /** Abandon a delivery after this long; must stay well under the lease. */
  deliveryTimeoutMs?: number;
  /** Names this instance in the lease table; random by default. */
  holder?: string;
  /** Builds a destination (tests hand in their own to watch deliveries). */
  openSink?: (stream: StreamForDelivery) => Sink;
};

/** Streams worked on concurrently by one instance. */
const CONCURRENCY = 4;
/** How long shutdown waits for a delivery in flight before abandoning it. */
const STOP_GRACE_MS = 2000;
/** Batches sent for one stream before the worker looks at the others again. */
const BATCHES_PER_TURN = 20;

/** `min · 2^failures`, capped at `max`, with equal jitter (half fixed, half random). */
export function retryDelayMs(failures: number, min: number, max: number, random = Math.random): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(failures, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class LogStreamWorker {
  readonly holder: string;
  private readonly batchSize: number;
  private readonly deliveryTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly sinks = new Map<string, { key: string; sink: Sink }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private nothingDue = false;
  private readonly delivering = new Set<string>();
  private stopped = false;
  private killed = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: WorkerOptions) {
    this.holder = opts.holder ?? randomUUID();
    this.batchSize = opts.batchSize ?? 100;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 10_000;
    this.leaseMs = this.deliveryTimeoutMs * 3;
  }

  start(): void {
    this.schedule();
  }

  /**
   * After a local commit: looks for work now instead of at the next poll, unless the last look
   * found no stream due (then a commit gives it none either, and ingest pays nothing for streams
   * it does not have; streams in backoff wait for their time anyway).
   */
  nudge(): void {
    if (this.nothingDue) return;
    this.wake();
  }

  /** Looks for work now (a stream was created or resumed). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.runOnce().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.schedule();
      }
    });
  }

  /**
   * Lets the batch in flight finish for a moment, then abandons it (it is delivered again later:
   * at least once), and gives back this instance's leases so another takes over at once.
   */
  async stop(): Promise<void> {
    if (this.killed) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const grace = new Promise((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([this.running, grace]);
    this.abort.abort();
    await this.running;
    await Promise.allSettled([...this.sinks.values()].map((s) => s.sink.close()));
    this.sinks.clear();
    await releaseLeases(this.opts.db, this.holder).catch((error) =>
      this.opts.logger.warn({ err: error }, 'log streams: could not release leases'),
    );
  }

  /**
   * Stops at once, as a crash would, without giving back leases (tests of failover use this);
   * a later `stop` does nothing.
   */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running?.catch(() => {});
    await Promise.allSettled([...this.sinks.values()].map((s) => s.sink.close()));
    this.sinks.clear();
  }

  private schedule() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      const due = await findDueStreams(this.opts.db, this.holder, 100);
      this.nothingDue = due.length === 0;
      const queue = [...due];
      const lanes = Array.from({ length: Math.min(CONCURRENCY, queue.length) }, async () => {
        for (let ref = queue.shift(); ref && !this.stopped; ref = queue.shift()) {
          const key = `${ref.tenantId}/${ref.streamId}`;
          // The lease keeps other instances out; this keeps a second lane of this one out.
          if (this.delivering.has(key)) continue;
          this.delivering.add(key);
          try {
            await this.deliverStream(ref);
          } catch (error) {
            // The database went away mid-stream: the position is where the last commit left it.
            this.opts.logger.warn({ err: error, stream: ref.streamId }, 'log streams: delivery interrupted');
          } finally {
            this.delivering.delete(key);
          }
        }
      });
      await Promise.all(lanes);
    } catch (error) {
      // The database being down is retried at the next poll, like everything else here.
      this.opts.logger.warn({ err: error }, 'log streams: poll failed');
    }
  }

  private async deliverStream(ref: StreamRef): Promise<void> {
    for (let turn = 0; turn < BATCHES_PER_TURN && !this.stopped; turn++) {
      if (!(await claimLease(this.opts.db, ref, this.holder, this.leaseMs))) return;
      const pending = await readPendingBatch(this.opts.db, ref, this.batchSize);
      if (!pending || pending.stream.paused) return;
      const { stream, events, scannedThrough } = pending;
      if (scannedThrough === stream.position) return;
      if (events.length > 0) {
        try {
          await this.send(
            stream,
            events.map((e) => toStreamedEvent(e, stream.tenantSlug)),
          );
        } catch (error) {
          // Abandoned by shutdown: not the destination's fault; the next holder sends it again.
          if (this.stopped) return;
          const retryInMs = retryDelayMs(stream.failures, this.opts.retryMinMs, this.opts.retryMaxMs);
          const message = error instanceof Error ? error.message : String(error);
          this.opts.logger.warn(
            { stream: stream.id, error: message, retryInMs },
            'log stream delivery failed',
          );
          await recordFailure(this.opts.db, ref, this.holder, { error: message, retryInMs });
          return;
        }
      }
      const advanced = await recordDelivered(this.opts.db, ref, this.holder, {
        from: stream.position,
        to: scannedThrough,
        lastDeliveredSeq: events.at(-1)?.sequence ?? null,
      });
      if (!advanced) return;
    }
  }

  private async send(stream: StreamForDelivery, events: ReturnType<typeof toStreamedEvent>[]) {
    const sink = this.sinkFor(stream);
    const timeout = AbortSignal.timeout(this.deliveryTimeoutMs);
    await sink.deliver(
      { tenant: stream.tenantSlug, destination: stream.id, events },
      AbortSignal.any([timeout, this.abort.signal]),
    );
  }

  /** One sink per stream, kept while its configuration stays the same (NATS keeps a connection). */
  private sinkFor(stream: StreamForDelivery): Sink {
    const id = `${stream.tenantId}/${stream.id}`;
    const key = JSON.stringify([stream.kind, stream.config, stream.secret]);
    const cached = this.sinks.get(id);
    if (cached?.key === key) return cached.sink;
    if (cached) void cached.sink.close();
    const sink = (this.opts.openSink ?? openSink)(stream);
    this.sinks.set(id, { key, sink });
    return sink;
  }
}
