// Groups concurrent appends for one tenant into one transaction. While a tenant's transaction is
// in flight, new submissions wait; when it commits, everything that queued up goes in the next
// one. Each caller's promise settles only after the transaction holding its events committed
// (or failed as a whole), so an acknowledged event is always a committed one.
import { DatabaseUnavailableError } from '../errors.ts';
import type { AppendOutcome, NewEvent } from './model.ts';

type Submission = {
  events: NewEvent[];
  resolve: (outcomes: AppendOutcome[]) => void;
  reject: (error: unknown) => void;
};

export type AppendBatch = (tenantId: number, events: NewEvent[]) => Promise<AppendOutcome[]>;

export class GroupCommitter {
  readonly #queues = new Map<number, Submission[]>();
  readonly #running = new Set<number>();
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(
    private readonly append: AppendBatch,
    /** Upper bound of events per transaction; one submission larger than this still goes whole. */
    private readonly maxEventsPerCommit: number,
  ) {}

  submit(tenantId: number, events: NewEvent[]): Promise<AppendOutcome[]> {
    return new Promise((resolve, reject) => {
      const queue = this.#queues.get(tenantId) ?? [];
      queue.push({ events, resolve, reject });
      this.#queues.set(tenantId, queue);
      if (!this.#running.has(tenantId)) void this.#drain(tenantId);
    });
  }

  /** Resolves once no transaction is in flight or queued (for graceful shutdown). */
  async whenIdle(): Promise<void> {
    if (this.#inFlight === 0 && this.#queues.size === 0) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  async #drain(tenantId: number): Promise<void> {
    this.#running.add(tenantId);
    this.#inFlight += 1;
    try {
      for (;;) {
        const queue = this.#queues.get(tenantId);
        if (!queue || queue.length === 0) break;
        const batch: Submission[] = [];
        let size = 0;
        while (queue.length > 0) {
          const next = queue[0] as Submission;
          if (batch.length > 0 && size + next.events.length > this.maxEventsPerCommit) break;
          batch.push(next);
          size += next.events.length;
          queue.shift();
        }
        if (queue.length === 0) this.#queues.delete(tenantId);
        await this.#commit(tenantId, batch);
      }
    } finally {
      this.#running.delete(tenantId);
      this.#inFlight -= 1;
      if (this.#inFlight === 0 && this.#queues.size === 0) {
        for (const resolve of this.#idle.splice(0)) resolve();
      }
    }
  }

  async #commit(tenantId: number, batch: Submission[]): Promise<void> {
    try {
      const outcomes = await this.append(
        tenantId,
        batch.flatMap((s) => s.events),
      );
      let offset = 0;
      for (const s of batch) {
        s.resolve(outcomes.slice(offset, offset + s.events.length));
        offset += s.events.length;
      }
    } catch (error) {
      // One submission must not sink the others it happened to share a transaction with:
      // unless the database itself is away, give each its own transaction.
      if (batch.length > 1 && !(error instanceof DatabaseUnavailableError)) {
        for (const s of batch) await this.#commit(tenantId, [s]);
        return;
      }
      for (const s of batch) s.reject(error);
    }
  }
}
