// The count rollups (migration 0006): events per tenant and UTC hour, day or month, per action or
// actor. Appends add to them in their own transaction; rebuildCountRollups recomputes a range
// from the events wherever events are removed; planRollupRead decides whether a count query can
// read them, and which parts of its window must still be read from the events.
import { type SQL, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { countsByDayActor, countsByHourAction, countsByMonthActor } from '../../db/schema.ts';
import type { CountDimension, CountQuery } from '../counts.ts';
import { LIST_FILTER_NAMES } from '../filters.ts';
import type { AuditEvent } from '../model.ts';
import type { Restriction } from '../viewer.ts';
import { FILTER_SQL } from './event-reads.ts';
import { t } from './event-rows.ts';
import { textArray } from './transaction.ts';

/** The length of a rollup's slot: a UTC hour, day or calendar month. */
export type Slot = 'hour' | 'day' | 'month';

/** A dimension a rollup counts by; its filter of the same meaning. */
type RollupDimension = 'action' | 'actor';
const FILTER_OF = { action: 'actions', actor: 'actorIds' } as const;

export type Rollup = {
  table: typeof countsByHourAction;
  dimension: RollupDimension;
  slot: Slot;
};

/** Every rollup; per dimension, coarsest slot first (planRollupRead fills a window in that order). */
export const ROLLUPS: readonly Rollup[] = [
  { table: countsByHourAction, dimension: 'action', slot: 'hour' },
  { table: countsByMonthActor, dimension: 'actor', slot: 'month' },
  { table: countsByDayActor, dimension: 'actor', slot: 'day' },
];

/** The events' value for a rollup's dimension: the filters' own expressions ('' for no actor). */
const DIMENSION_VALUE: Record<RollupDimension, SQL> = {
  action: FILTER_SQL.actions,
  actor: FILTER_SQL.actorIds,
};

/** The start of the UTC slot an instant falls in, in SQL (independent of the session's zone). */
const slotOf = (slot: Slot, instant: SQL) =>
  sql`(date_trunc(${sql.raw(`'${slot}'`)}, ${instant} at time zone 'UTC') at time zone 'UTC')`;

/** The start of the UTC slot `ms` falls in. */
export function slotFloor(slot: Slot, ms: number): number {
  if (slot === 'hour') return Math.floor(ms / 3_600_000) * 3_600_000;
  if (slot === 'day') return Math.floor(ms / 86_400_000) * 86_400_000;
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The first slot start at or after `ms`. */
export function slotCeil(slot: Slot, ms: number): number {
  const floor = slotFloor(slot, ms);
  if (floor === ms) return ms;
  if (slot !== 'month') return floor + (slot === 'hour' ? 3_600_000 : 86_400_000);
  const d = new Date(floor);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

const iso = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** What a rollup counts of an event: when it occurred, and its action and actor. */
export type CountedEvent = Pick<AuditEvent, 'occurredAt' | 'action' | 'actor'>;

/** The events' value for a rollup's dimension, as DIMENSION_VALUE computes it in SQL. */
const VALUE_OF: Record<RollupDimension, (e: CountedEvent) => string> = {
  action: (e) => e.action,
  actor: (e) => e.actor?.id ?? '',
};

/**
 * Adds an append's events to every rollup: counted here per slot and value, and upserted in one
 * statement, one row per slot and value into each rollup. Runs in the append transaction, after
 * the insert, under the chain head's lock: a tenant's appends take turns, so the upserts never
 * race, and the rollups commit or roll back with the events they count.
 *
 * Counted from the rows the append has in hand, not read back: a read-back is one more scan per
 * append, and on the partitioned table a cached plan made while the month's partition was
 * nearly empty reads it sequentially as it fills (1.5 ms an append, growing, on the 1M bench).
 */
export async function addToCountRollups(
  tx: Tx,
  tenantId: number,
  events: readonly CountedEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const upserts = ROLLUPS.map((r, i) => {
    const counted = new Map<string, { slot: string; value: string; n: number }>();
    for (const e of events) {
      const slot = new Date(slotFloor(r.slot, e.occurredAt.getTime())).toISOString();
      const value = VALUE_OF[r.dimension](e);
      const key = `${slot} ${value}`;
      const row = counted.get(key);
      if (row) row.n += 1;
      else counted.set(key, { slot, value, n: 1 });
    }
    const rows = [...counted.values()];
    const table = r.table;
    const [tenant, slot, value, n] = [table.tenantId, table.slot, table.value, table.events].map((c) =>
      sql.identifier(c.name),
    );
    return sql`${sql.identifier(`r${i}`)} as (
  insert into ${table} (${tenant}, ${slot}, ${value}, ${n})
  select ${tenantId}::integer, u.slot::timestamptz, u.value, u.n
    from unnest(${textArray(rows.map((x) => x.slot))}, ${textArray(rows.map((x) => x.value))}, ${sql.param(rows.map((x) => x.n))}::integer[]) as u(slot, value, n)
  on conflict (${tenant}, ${slot}, ${value}) do update set ${n} = ${table}.${n} + excluded.${n}
)`;
  });
  await tx.execute(sql`with ${sql.join(upserts, sql`, `)} select 1`);
}

/**
 * Recomputes every rollup slot of the tenant that overlaps [from, to) from the events now stored,
 * in the caller's transaction. Call it, in the same transaction, after removing events (prune,
 * dropping a partition) with a range that covers their occurredAt, and the rollups stay exact.
 * Needs the table owner (the serving role cannot delete rollup rows) and the tenant set in the
 * transaction (row-level security). Events received in `excluding` are not counted: the month
 * whose partition the transaction drops, rebuilt before the drop so the table's exclusive lock
 * is held only for the drop.
 */
export async function rebuildCountRollups(
  tx: Tx,
  tenantId: number,
  from: Date,
  to: Date,
  excluding?: { from: Date; to: Date },
): Promise<void> {
  if (to.getTime() <= from.getTime()) return;
  for (const r of ROLLUPS) {
    const table = r.table;
    const start = iso(slotFloor(r.slot, from.getTime()));
    const end = iso(slotCeil(r.slot, to.getTime()));
    await tx.execute(
      sql`delete from ${table} where ${table.tenantId} = ${tenantId} and ${table.slot} >= ${start} and ${table.slot} < ${end}`,
    );
    await tx.execute(sql`insert into ${table} (${sql.identifier(table.tenantId.name)}, ${sql.identifier(table.slot.name)}, ${sql.identifier(table.value.name)}, ${sql.identifier(table.events.name)})
  select ${tenantId}::integer, ${slotOf(r.slot, sql`${t.occurredAt}`)}, ${DIMENSION_VALUE[r.dimension]}, count(*)
    from ${t} where ${t.tenantId} = ${tenantId} and ${t.occurredAt} >= ${start} and ${t.occurredAt} < ${end}${
      excluding
        ? sql` and (${t.receivedAt} < ${iso(excluding.from.getTime())} or ${t.receivedAt} >= ${iso(excluding.to.getTime())})`
        : sql``
    }
   group by 2, 3`);
  }
}

/** [from, to) in epoch ms; null ends are open. */
export type Range = { from: number | null; to: number | null };

/** A range that is added to the counts (1) or taken from them (-1). */
export type SignedRange = Range & { sign: 1 | -1 };

/** A count query's window split between rollups (whole slots) and the events (the rest). */
export type RollupPlan = {
  dimension: RollupDimension;
  /**
   * Rows of a rollup whose slot starts in the range, added or subtracted. An added piece's slots
   * lie wholly inside the window; a subtracted one lies inside a slot that a coarser piece added
   * whole, and takes back the part of it outside the window.
   */
  pieces: { rollup: Rollup; range: SignedRange }[];
  /** What is left, read from the events, added or subtracted likewise. */
  eventRanges: SignedRange[];
  /** Values the rollup rows must have (the filter's and the restriction's), each a list to AND. */
  valueLists: string[][];
};

/**
 * Whether a count query can read rollups, and how its window splits. It can when the filter and
 * the restriction narrow by at most the rollup's dimension, no free text is searched, and the
 * query groups by nothing or by that dimension. Whether its time buckets line up with the slots
 * is checked once the buckets are known (`bucketsAlign`). Otherwise null: the GROUP BY over the
 * events answers.
 */
export function planRollupRead(q: CountQuery, restriction: Restriction | undefined): RollupPlan | null {
  const f = q.filter;
  if (f.search) return null;
  // Every filter and restriction field is listed from its own definition, so one added later
  // makes the rollups step aside until they learn it.
  const filtered = LIST_FILTER_NAMES.filter((name) => f[name]?.length);
  const restricted = Object.entries(restriction ?? {})
    .filter(([, values]) => values !== undefined)
    .map(([name]) => name);
  const candidates: RollupDimension[] = ['action', 'actor'];
  const groupedBy = q.groupBy as CountDimension[];
  // With neither a filter nor a grouping on one, the hourly action rollup has the finest slots.
  const dimension = candidates.find(
    (d) =>
      filtered.every((n) => n === FILTER_OF[d]) &&
      restricted.every((n) => n === FILTER_OF[d]) &&
      groupedBy.every((g) => g === d),
  );
  if (!dimension) return null;
  const valueLists: string[][] = [];
  const own = f[FILTER_OF[dimension]];
  if (own?.length) valueLists.push(own);
  const slice = restriction?.[FILTER_OF[dimension]];
  if (slice !== undefined) valueLists.push([...slice]);

  // Without buckets, a slot that the window covers mostly may be added whole and the part outside
  // the window taken back (a month less two days reads far fewer rows than 29 days). With buckets
  // every row must fall in one bucket, so only whole slots inside the window are added.
  const complement = !q.buckets;
  const pieces: RollupPlan['pieces'] = [];
  // Fill the window from the coarsest rollup down: each covers the whole slots of what the
  // coarser ones left, and the events cover the rest.
  let gaps: SignedRange[] = [{ from: f.since?.getTime() ?? null, to: f.until?.getTime() ?? null, sign: 1 }];
  for (const rollup of ROLLUPS.filter((r) => r.dimension === dimension && slotFits(r.slot, q))) {
    const next: SignedRange[] = [];
    for (const gap of gaps) {
      const cover = coverWithSlots(rollup.slot, gap, complement);
      if (!cover) {
        next.push(gap);
        continue;
      }
      pieces.push({ rollup, range: { from: cover.from, to: cover.to, sign: gap.sign } });
      next.push(...cover.rest);
    }
    gaps = next;
  }
  if (pieces.length === 0) return null;
  return { dimension, pieces, eventRanges: gaps, valueLists };
}

/**
 * The slots of `slot` that best cover `gap`: from the whole slots inside it, or (with
 * `complement`) from a slot that holds one of its ends, whichever leaves less of it to read
 * finer. `rest` is what is left: the gap's own ends (same sign), or the parts of the outer slots
 * outside the gap (opposite sign). Null when no slot helps.
 */
export function coverWithSlots(
  slot: Slot,
  gap: SignedRange,
  complement: boolean,
): { from: number | null; to: number | null; rest: SignedRange[] } | null {
  const starts =
    gap.from === null
      ? [null]
      : [slotCeil(slot, gap.from), ...(complement ? [slotFloor(slot, gap.from)] : [])];
  const ends =
    gap.to === null ? [null] : [slotFloor(slot, gap.to), ...(complement ? [slotCeil(slot, gap.to)] : [])];
  const whole = gap.from !== null && gap.to !== null ? gap.to - gap.from : Number.POSITIVE_INFINITY;
  let best: { from: number | null; to: number | null; left: number } | null = null;
  for (const from of starts) {
    for (const to of ends) {
      if (from !== null && to !== null && from >= to) continue;
      const left =
        (from === null || gap.from === null ? 0 : Math.abs(from - gap.from)) +
        (to === null || gap.to === null ? 0 : Math.abs(to - gap.to));
      // Ties go to the inner cover (listed first), which subtracts nothing.
      if (left < whole && (!best || left < best.left)) best = { from, to, left };
    }
  }
  if (!best) return null;
  const rest: SignedRange[] = [];
  const opposite = gap.sign === 1 ? -1 : 1;
  if (gap.from !== null && best.from !== null && best.from !== gap.from) {
    rest.push(
      best.from > gap.from
        ? { from: gap.from, to: best.from, sign: gap.sign }
        : { from: best.from, to: gap.from, sign: opposite },
    );
  }
  if (gap.to !== null && best.to !== null && best.to !== gap.to) {
    rest.push(
      best.to < gap.to
        ? { from: best.to, to: gap.to, sign: gap.sign }
        : { from: gap.to, to: best.to, sign: opposite },
    );
  }
  return { from: best.from, to: best.to, rest };
}

/**
 * A slot can serve only buckets at least as long: an hourly histogram needs hourly slots, and a
 * daily one cannot use monthly slots. Daily and monthly slots are UTC days and months, so they
 * serve buckets only in UTC (elsewhere a local midnight falls inside them). Zones whose bucket
 * edges still fall inside a slot (an offset that is not whole hours) are caught by bucketsAlign
 * once the buckets are known.
 */
function slotFits(slot: Slot, q: CountQuery): boolean {
  const b = q.buckets;
  if (!b || slot === 'hour') return true;
  if (!UTC_NAMES.has(b.timeZone)) return false;
  return slot === 'day' ? b.interval !== 'hour' : b.interval === 'month';
}

const UTC_NAMES = new Set([
  'UTC',
  'Etc/UTC',
  'Etc/UCT',
  'UCT',
  'Etc/Universal',
  'Universal',
  'Etc/Zulu',
  'Zulu',
]);

/**
 * Whether every bucket edge inside a rollup piece falls on a slot edge, so each rollup row lies in
 * one bucket. Bucket edges are local midnights (or month starts, or hours) in the query's zone:
 * a zone whose offset is not whole hours, or a daily bucket read from daily UTC slots outside UTC,
 * fails here and the events answer instead.
 */
export function bucketsAlign(plan: RollupPlan, bucketStarts: number[]): boolean {
  for (const edge of bucketStarts.slice(1)) {
    for (const { rollup, range } of plan.pieces) {
      const inside = (range.from === null || edge > range.from) && (range.to === null || edge < range.to);
      if (inside && slotFloor(rollup.slot, edge) !== edge) return false;
    }
  }
  return true;
}
