// Counting events: one statement groups the matching events by up to two dimensions and a time
// bucket, ranks the groups, folds all but the top N into rank 0 ("other"), and lists every bucket
// of the window (generate_series), so empty buckets are answered too. Where the query lines up
// with a count rollup (count-rollups.ts), the whole slots of its window are read from the rollup
// and only the edges from the events; the answer is the same either way.
import { and, type SQL, sql } from 'drizzle-orm';
import { type Db, resultRows } from '../../db/client.ts';
import { ValidationError } from '../../errors.ts';
import type { CountDimension, CountInterval, CountQuery, CountRow } from '../counts.ts';
import type { Restriction } from '../viewer.ts';
import { bucketsAlign, planRollupRead, type Range, type RollupPlan } from './count-rollups.ts';
import { FILTER_SQL, filterConditions, readTenant, type SearchBound } from './event-reads.ts';
import { t } from './event-rows.ts';
import { textArray } from './transaction.ts';

/**
 * The value each dimension groups by. Absent values group as '' (no stored value is empty), so
 * that groups join on plain equality; the coalesce() forms are the filters' own, which the
 * expression indexes serve.
 */
const DIMENSION_SQL: Record<CountDimension, SQL> = {
  action: FILTER_SQL.actions,
  actor: FILTER_SQL.actorIds,
  targetKind: FILTER_SQL.targetKinds,
  target: sql`coalesce(${t.targetId}, '')`,
  group: FILTER_SQL.groupIds,
  ipAddress: sql`coalesce(${t.ipAddress}, '')`,
};

/** A bucket's start as epoch milliseconds: the same number on both drivers. */
const epochMs = (instant: SQL) => sql`(extract(epoch from ${instant}) * 1000)::float8`;

/**
 * The bucket an event falls in, and every bucket of [since, until). Days, weeks (ISO, from Monday)
 * and months are local to the zone, so a daylight-saving day is 23 or 25 hours long; the event side
 * and the series side use the same local-time expression, so they agree on every instant. Hours are
 * absolute hours (a 25-hour day has 25), aligned to the zone's offset at the window's local midnight.
 */
function bucketing(b: NonNullable<CountQuery['buckets']>): { event: (at: SQL) => SQL; series: SQL } {
  // `series` is a FROM item with one column, b.
  const tz = sql`${b.timeZone}::text`;
  const since = sql`${b.since.toISOString()}::timestamptz`;
  const last = sql`(${b.until.toISOString()}::timestamptz - interval '1 microsecond')`;
  if (b.interval === 'hour') {
    const origin = sql`(date_trunc('day', ${since} at time zone ${tz}) at time zone ${tz})`;
    return {
      event: (at) => sql`date_bin(interval '1 hour', ${at}, ${origin})`,
      series: sql`generate_series(date_bin(interval '1 hour', ${since}, ${origin}), ${last}, interval '1 hour') as s(b)`,
    };
  }
  const unit = sql.raw(`'${b.interval satisfies Exclude<CountInterval, 'hour'>}'`);
  const step = sql.raw(`interval '1 ${b.interval}'`);
  return {
    event: (at) => sql`(date_trunc(${unit}, ${at} at time zone ${tz}) at time zone ${tz})`,
    series: sql`(select g at time zone ${tz} as b from generate_series(date_trunc(${unit}, ${since} at time zone ${tz}), date_trunc(${unit}, ${last} at time zone ${tz}), ${step}) as g) as s`,
  };
}

/**
 * The counts of a query: the top groups' and the rest's (rank 0) per bucket, the buckets (empty
 * ones included) and how many groups there are in all; from the rollups where they line up with
 * the query (`rollups: false` reads only the events, which tests compare against).
 */
export async function countByGroupAndBucket(
  db: Db,
  tenantId: number,
  q: CountQuery,
  restriction: Restriction | undefined,
  bound: SearchBound,
  { rollups = true }: { rollups?: boolean } = {},
): Promise<{ rows: CountRow[]; bucketStarts: number[]; groups: number; fromRollup: boolean }> {
  const plan = rollups ? planRollupRead(q, restriction) : null;
  if (plan) {
    const answer = await runCount(db, tenantId, q, restriction, bound, plan);
    // A zone whose bucket edges fall inside a rollup slot: the rollup cannot split that slot.
    if (bucketsAlign(plan, answer.bucketStarts)) return { ...answer, fromRollup: true };
  }
  return { ...(await runCount(db, tenantId, q, restriction, bound, null)), fromRollup: false };
}

async function runCount(
  db: Db,
  tenantId: number,
  q: CountQuery,
  restriction: Restriction | undefined,
  bound: SearchBound,
  plan: RollupPlan | null,
): Promise<{ rows: CountRow[]; bucketStarts: number[]; groups: number }> {
  const [d1, d2] = [0, 1].map((i) => {
    const dimension = q.groupBy[i];
    return dimension ? DIMENSION_SQL[dimension] : sql`''::text`;
  }) as [SQL, SQL];
  const buckets = q.buckets ? bucketing(q.buckets) : null;
  const bucketOf = (at: SQL) => buckets?.event(at) ?? sql`null::timestamptz`;
  const cells = plan
    ? rollupCells(tenantId, q, restriction, plan, bucketOf, d1, d2)
    : sql`select ${d1} as d1, ${d2} as d2, ${bucketOf(sql`${t.occurredAt}`)} as b, count(*) as n
  from ${t} where ${and(...filterConditions(tenantId, q.filter, restriction))}
  group by 1, 2, 3`;
  // Without buckets a cell is a group already: rank the cells themselves, with no join back.
  const rankAndFold = buckets
    ? sql`ranked as (
  select d1, d2, row_number() over (order by sum(n) desc, d1, d2) as rank from cells group by d1, d2
), folded as (
  select case when r.rank <= ${q.first} then r.rank else 0 end as rank,
         case when r.rank <= ${q.first} then c.d1 else '' end as d1,
         case when r.rank <= ${q.first} then c.d2 else '' end as d2,
         c.b, sum(c.n) as n
  from cells c join ranked r on r.d1 = c.d1 and r.d2 = c.d2
  group by 1, 2, 3, 4
)`
    : sql`ranked as (
  select d1, d2, n, row_number() over (order by n desc, d1, d2) as rank from cells
), folded as (
  select case when rank <= ${q.first} then rank else 0 end as rank,
         case when rank <= ${q.first} then d1 else '' end as d1,
         case when rank <= ${q.first} then d2 else '' end as d2,
         null::timestamptz as b, sum(n) as n
  from ranked
  group by 1, 2, 3
)`;
  const statement = sql`with cells as (
  ${cells}
), ${rankAndFold}
select rank::int as rank, d1, d2, ${epochMs(sql`b`)} as b, n::float8 as n from folded
union all
select -1, '', '', ${buckets ? epochMs(sql`s.b`) : sql`null::float8`}, (select count(*) from ranked)::float8
from ${buckets ? buckets.series : sql`(select 1) as s`}`;
  type Row = { rank: number; d1: string; d2: string; b: number | null; n: number };
  const result = await readTenant(db, tenantId, q.filter, bound, async (tx) => {
    try {
      return await tx.execute(statement);
    } catch (error) {
      throw unknownZone(error, q.buckets?.timeZone) ?? error;
    }
  });
  const raw = resultRows<Row>(result);
  const rows: CountRow[] = [];
  const bucketStarts: number[] = [];
  let groups = 0;
  for (const r of raw) {
    if (Number(r.rank) === -1) {
      groups = Number(r.n);
      if (r.b !== null) bucketStarts.push(Number(r.b));
      continue;
    }
    rows.push({
      rank: Number(r.rank),
      keys: [r.d1, r.d2],
      bucket: r.b === null ? null : Number(r.b),
      count: Number(r.n),
    });
  }
  bucketStarts.sort((a, b) => a - b);
  return { rows, bucketStarts, groups };
}

const at = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** `column` within [from, to) (open ends unbounded), as index range conditions. */
function within(column: SQL, r: Range): SQL[] {
  return [
    ...(r.from === null ? [] : [sql`${column} >= ${at(r.from)}`]),
    ...(r.to === null ? [] : [sql`${column} < ${at(r.to)}`]),
  ];
}

/**
 * The same cells as the GROUP BY over the events, from the rollup rows of the plan's pieces plus
 * the events of what the pieces leave of the window. Only groupings by the rollup's dimension
 * (or none) get here, so a cell's keys are the rollup's value or ''.
 */
function rollupCells(
  tenantId: number,
  q: CountQuery,
  restriction: Restriction | undefined,
  plan: RollupPlan,
  bucketOf: (at: SQL) => SQL,
  d1: SQL,
  d2: SQL,
): SQL {
  const parts: SQL[] = plan.pieces.map(({ rollup, range }) => {
    const r = rollup.table;
    const value = sql`${r.value}`;
    const n = range.sign === 1 ? sql`${r.events}` : sql`-${r.events}`;
    return sql`select ${q.groupBy.length ? value : sql`''::text`} as d1, ''::text as d2, ${bucketOf(sql`${r.slot}`)} as b, ${n} as n
    from ${r} where ${and(
      sql`${r.tenantId} = ${tenantId}`,
      ...within(sql`${r.slot}`, range),
      ...plan.valueLists.map((values) =>
        values.length === 0 ? sql`false` : sql`${value} = any(${textArray(values)})`,
      ),
    )}`;
  });
  const unwindowed = { ...q.filter, since: undefined, until: undefined };
  for (const sign of [1, -1] as const) {
    const ranges = plan.eventRanges.filter((r) => r.sign === sign);
    if (ranges.length === 0) continue;
    const edges = ranges.map((r) => and(...within(sql`${t.occurredAt}`, r)) ?? sql`true`);
    parts.push(sql`select ${d1} as d1, ${d2} as d2, ${bucketOf(sql`${t.occurredAt}`)} as b, ${sign === 1 ? sql`count(*)` : sql`-count(*)`} as n
    from ${t} where ${and(...filterConditions(tenantId, unwindowed, restriction), sql`(${sql.join(edges, sql` or `)})`)}
    group by 1, 2, 3`);
  }
  // A group whose every event lies in a part taken back sums to 0: it has no event in the window.
  return sql`select d1, d2, b, sum(n) as n from (
    ${sql.join(
      parts,
      sql`
    union all
    `,
    )}
  ) as u group by 1, 2, 3 having sum(n) <> 0`;
}

/** The database's refusal of a zone the runtime knew (their tz databases differ), as bad input. */
function unknownZone(error: unknown, timeZone: string | undefined): ValidationError | undefined {
  let e: unknown = error;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === '22023' && typeof message === 'string' && message.includes('time zone')) {
      return new ValidationError(
        'timeZone',
        `${JSON.stringify(timeZone)} is not a time zone this database knows`,
      );
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
