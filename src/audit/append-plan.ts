// What an append does, decided without the database: which events are new (and their place
// and hash in the chain), which are retries of a stored request (replayed), which reuse a key for
// another request (conflict), and which catalog entries they bring. The repository runs it inside
// the append transaction, between reading the locked head and the stored keys and writing.
import type { AppendOutcome, AuditEvent, CatalogEntry, ChainHead, NewEvent } from './model.ts';

/** An event already stored under an idempotency key, and the hash of the request that stored it. */
export type PriorRequest = { requestHash: Buffer | null; event: AuditEvent };

/** Canonical bytes and hash of an event placed after `prev`. */
export type Seal = (event: Omit<AuditEvent, 'hash'>, prev: string) => { canonical: string; hash: string };

export type AppendPlan = {
  /** One per event handed in, in the same order. */
  outcomes: AppendOutcome[];
  /** The events to store, in chain order, with what only the row keeps. */
  inserts: {
    event: AuditEvent;
    idempotencyKey: string | null;
    requestHash: Buffer | null;
    canonical: string;
  }[];
  /** The (target kind, action, actor type) combinations the new events hold, each once. */
  catalog: CatalogEntry[];
  /** The head after the new events (unchanged when nothing is new). */
  head: ChainHead;
};

/** The idempotency keys a batch names, each once: the stored requests to look up before planning. */
export function idempotencyKeysOf(events: readonly NewEvent[]): string[] {
  return [...new Set(events.flatMap((e) => (e.idempotencyKey ? [e.idempotencyKey] : [])))];
}

/**
 * A key seen earlier in the same batch counts like a stored one: the second use replays the
 * first (same request) or conflicts with it.
 */
export function planAppend(
  events: readonly NewEvent[],
  head: ChainHead,
  prior: ReadonlyMap<string, PriorRequest>,
  seal: Seal,
): AppendPlan {
  const seen = new Map(prior);
  const outcomes: AppendOutcome[] = [];
  const inserts: AppendPlan['inserts'] = [];
  const catalog = new Map<string, CatalogEntry>();
  let seq = head.seq;
  let prev = head.hash;
  for (const e of events) {
    const key = e.idempotencyKey;
    const earlier = key ? seen.get(key) : undefined;
    if (key && earlier) {
      const same =
        earlier.requestHash !== null && e.requestHash !== null && earlier.requestHash.equals(e.requestHash);
      outcomes.push(
        same ? { kind: 'replayed', event: earlier.event } : { kind: 'conflict', idempotencyKey: key },
      );
      continue;
    }
    seq += 1;
    const { idempotencyKey, requestHash, signNow: _signNow, ...fields } = e;
    const placed = { ...fields, sequence: seq };
    const sealed = seal(placed, prev);
    prev = sealed.hash;
    const event: AuditEvent = { ...placed, hash: sealed.hash };
    outcomes.push({ kind: 'stored', event });
    if (key) seen.set(key, { requestHash, event });
    inserts.push({ event, idempotencyKey, requestHash, canonical: sealed.canonical });
    const entry = { targetKind: e.target?.kind ?? '', action: e.action, actorType: e.actor?.type ?? '' };
    catalog.set(JSON.stringify(entry), entry);
  }
  return { outcomes, inserts, catalog: [...catalog.values()], head: { ...head, seq, hash: prev } };
}
