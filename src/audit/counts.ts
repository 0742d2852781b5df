// Counts and histograms of events: what a count query may ask (dimensions, time buckets in an IANA
// zone, top N), its bounds, and how the repository's rows become an answer whose numbers add up.
import { ValidationError } from '../errors.ts';
import type { EventFilter } from './filters.ts';

/** What events can be grouped by; each is one column (absent values form their own group). */
export const COUNT_DIMENSIONS = ['action', 'actor', 'targetKind', 'target', 'group', 'ipAddress'] as const;
export type CountDimension = (typeof COUNT_DIMENSIONS)[number];

export const COUNT_INTERVALS = ['hour', 'day', 'week', 'month'] as const;
export type CountInterval = (typeof COUNT_INTERVALS)[number];

export const COUNT_LIMITS = {
  /** Most dimensions one query groups by. */
  dimensions: 2,
  /** Default and largest `first`: how many groups are listed before the rest becomes "other". */
  defaultGroups: 10,
  maxGroups: 100,
  /** Most time buckets one query may span. */
  maxBuckets: 1000,
  /** Most group × bucket cells one answer may hold. */
  maxCells: 20_000,
} as const;

export type CountRequest = {
  groupBy?: readonly CountDimension[] | null | undefined;
  interval?: CountInterval | null | undefined;
  timeZone?: string | null | undefined;
  first?: number | null | undefined;
};

/** A checked count query, as the repository runs it. */
export type CountQuery = {
  filter: EventFilter;
  groupBy: CountDimension[];
  /** 0 without groupBy: every event counts towards the total only. */
  first: number;
  timeZone: string;
  buckets: { interval: CountInterval; timeZone: string; since: Date; until: Date } | null;
};

/** One row from the repository: a group's (rank ≥ 1) or the rest's (rank 0) events in one bucket. */
export type CountRow = {
  rank: number;
  /** The group's values, in groupBy order; '' where the events have none. */
  keys: string[];
  /** Start of the bucket (ms), or null without an interval. */
  bucket: number | null;
  count: number;
};

export type CountBucket = { start: Date; end: Date; count: number; other: number };
export type CountGroup = {
  /** The group's value for each groupBy dimension; null where the events have none. */
  key: Partial<Record<CountDimension, string | null>>;
  count: number;
  /** Per bucket, in the order of `buckets`; empty without an interval. */
  buckets: number[];
};
export type EventCounts = {
  total: number;
  groups: CountGroup[];
  /** Events in no listed group. */
  other: number;
  /** How many groups `other` holds. */
  otherGroups: number;
  buckets: CountBucket[];
  interval: CountInterval | null;
  timeZone: string;
};

/** Letters, digits and `_` in the area; `+`/`-` only after it (Etc/GMT+3), never a POSIX rule like UTC+3. */
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_]*(\/[A-Za-z0-9_+-]+){0,2}$/;

/**
 * A formatter per zone that the runtime knows (Intl builds one in about half a millisecond). Only
 * valid names are kept, and the tz database has a few hundred, so the cache stays small.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      timeZoneName: 'longOffset',
    });
    if (formatters.size < 1000) formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Checks an IANA time zone name against the runtime's tz database (Intl); returns it as given. */
export function checkTimeZone(name: string, field = 'timeZone'): string {
  const refuse = () =>
    new ValidationError(
      field,
      `${JSON.stringify(name)} is not an IANA time zone name such as Europe/Berlin or UTC`,
    );
  if (name.length > 64 || !IANA_NAME.test(name)) throw refuse();
  try {
    formatterFor(name);
  } catch {
    throw refuse();
  }
  return name;
}

/** Validates a count request against an already validated filter; `now` ends an open window. */
export function checkCountRequest(filter: EventFilter, r: CountRequest, now: Date): CountQuery {
  const groupBy = [...(r.groupBy ?? [])];
  if (groupBy.length > COUNT_LIMITS.dimensions) {
    throw new ValidationError('groupBy', `must list at most ${COUNT_LIMITS.dimensions} dimensions`);
  }
  if (groupBy.length === 2 && groupBy[0] === groupBy[1]) {
    throw new ValidationError('groupBy', 'must not list the same dimension twice');
  }
  if (r.first != null && groupBy.length === 0) {
    throw new ValidationError('first', 'needs groupBy: it says how many groups to list');
  }
  const first = r.first ?? COUNT_LIMITS.defaultGroups;
  if (!Number.isInteger(first) || first < 1 || first > COUNT_LIMITS.maxGroups) {
    throw new ValidationError('first', `must be between 1 and ${COUNT_LIMITS.maxGroups}`);
  }
  const timeZone = checkTimeZone(r.timeZone ?? 'UTC');
  if (!r.interval) return { filter, groupBy, first: groupBy.length ? first : 0, timeZone, buckets: null };

  if (!filter.since)
    throw new ValidationError('filter.since', 'is required with an interval (where the first bucket starts)');
  const until = filter.until ?? now;
  if (until.getTime() <= filter.since.getTime()) {
    throw new ValidationError('filter.until', 'must be after since when counting by interval');
  }
  const n = bucketCount(r.interval, timeZone, filter.since, until);
  if (n > COUNT_LIMITS.maxBuckets) {
    throw new ValidationError(
      'interval',
      `the window spans ${n} ${r.interval}s in ${timeZone}; at most ${COUNT_LIMITS.maxBuckets} buckets: narrow filter.since/until or use a longer interval`,
    );
  }
  if (groupBy.length && first * n > COUNT_LIMITS.maxCells) {
    throw new ValidationError(
      'first',
      `${first} groups × ${n} buckets exceeds ${COUNT_LIMITS.maxCells} cells; ask for fewer groups or buckets`,
    );
  }
  return {
    filter: { ...filter, until },
    groupBy,
    first: groupBy.length ? first : 0,
    timeZone,
    buckets: { interval: r.interval, timeZone, since: filter.since, until },
  };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** The local calendar date and UTC offset (minutes) of an instant in a zone. */
function localParts(
  at: Date,
  timeZone: string,
): { days: number; year: number; month: number; offset: number } {
  const parts = formatterFor(timeZone).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const year = Number(get('year'));
  const month = Number(get('month'));
  const offsetText = /([+-])(\d{2}):?(\d{2})?/.exec(get('timeZoneName'));
  const offset = offsetText
    ? (offsetText[1] === '-' ? -1 : 1) * (Number(offsetText[2]) * 60 + Number(offsetText[3] ?? 0))
    : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, Number(get('day')));
  return { days: Math.floor(date.getTime() / DAY_MS), year, month, offset };
}

/**
 * How many buckets [since, until) spans, counted as the database will cut them: hours are
 * absolute (aligned to the zone's offset), days, weeks (from Monday) and months are local.
 */
export function bucketCount(interval: CountInterval, timeZone: string, since: Date, until: Date): number {
  const last = new Date(until.getTime() - 1);
  const a = localParts(since, timeZone);
  const b = localParts(last, timeZone);
  switch (interval) {
    case 'hour': {
      const shift = ((a.offset % 60) + 60) % 60;
      const hourOf = (d: Date) => Math.floor((d.getTime() + shift * 60_000) / HOUR_MS);
      return hourOf(last) - hourOf(since) + 1;
    }
    case 'day':
      return b.days - a.days + 1;
    case 'week': {
      // Day 0 (1970-01-01) was a Thursday; day -3 a Monday.
      const week = (days: number) => Math.floor((days + 3) / 7);
      return week(b.days) - week(a.days) + 1;
    }
    case 'month':
      return b.year * 12 + b.month - (a.year * 12 + a.month) + 1;
  }
}

/**
 * Turns the repository's rows into the answer. `bucketStarts` are the buckets in order (the
 * database generated them, empty ones included), each ending where the next begins and the last
 * at the window's end.
 */
export function assembleCounts(
  q: CountQuery,
  rows: CountRow[],
  bucketStarts: number[],
  otherGroups: number,
): EventCounts {
  const index = new Map(bucketStarts.map((ms, i) => [ms, i]));
  const slots = q.buckets ? bucketStarts.length : 0;
  const buckets: CountBucket[] = bucketStarts.map((ms, i) => ({
    start: new Date(ms),
    end: new Date(bucketStarts[i + 1] ?? (q.buckets as NonNullable<CountQuery['buckets']>).until.getTime()),
    count: 0,
    other: 0,
  }));
  const groups = new Map<number, CountGroup>();
  let total = 0;
  let other = 0;
  for (const row of rows) {
    total += row.count;
    const slot = row.bucket === null ? undefined : index.get(row.bucket);
    if (q.buckets && slot === undefined)
      throw new Error(`a count fell outside the generated buckets: ${row.bucket}`);
    const bucket = slot === undefined ? undefined : buckets[slot];
    if (bucket) bucket.count += row.count;
    if (row.rank === 0) {
      other += row.count;
      if (bucket) bucket.other += row.count;
      continue;
    }
    let group = groups.get(row.rank);
    if (!group) {
      group = {
        key: Object.fromEntries(q.groupBy.map((d, i) => [d, row.keys[i] || null])),
        count: 0,
        buckets: new Array<number>(slots).fill(0),
      };
      groups.set(row.rank, group);
    }
    group.count += row.count;
    if (slot !== undefined) group.buckets[slot] = (group.buckets[slot] ?? 0) + row.count;
  }
  return {
    total,
    groups: [...groups.entries()].sort(([a], [b]) => a - b).map(([, g]) => g),
    other: q.groupBy.length ? other : 0,
    otherGroups: q.groupBy.length ? otherGroups : 0,
    buckets: q.buckets ? buckets.map((b) => (q.groupBy.length ? b : { ...b, other: 0 })) : [],
    interval: q.buckets?.interval ?? null,
    timeZone: q.timeZone,
  };
}
