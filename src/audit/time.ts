// Strict timestamp parsing shared by every surface. A date-time must carry `Z` or an offset:
// one without is refused rather than read in the server's local time zone. Every instant a
// surface accepts lies in the range Postgres can store and compare, checked here once.

/** The first and last instants (ms) any surface accepts: years 0001 to 9999, as Postgres stores them. */
export const SUPPORTED_RANGE = {
  earliestMs: Date.parse('0001-01-01T00:00:00.000Z'),
  latestMs: Date.parse('9999-12-31T23:59:59.999Z'),
} as const;
const OUT_OF_RANGE = 'is outside the supported range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z (UTC)';

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-](\d{2}):(\d{2}))$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses an RFC 3339 date-time; returns the reason as a string when it is not one. */
export function parseDateTime(value: string): Date | string {
  const m = RFC3339.exec(value);
  if (!m) {
    return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2})?(\.\d+)?$/.test(value)
      ? 'must include a time zone offset (Z or ±hh:mm); local times are ambiguous'
      : 'must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z';
  }
  const [, y, mo, d, h, mi, s, frac, , oh, om] = m;
  if (!validCalendarDate(Number(y), Number(mo), Number(d))) return 'is not a real calendar date';
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return 'is not a valid time of day';
  if ((oh !== undefined && Number(oh) > 23) || (om !== undefined && Number(om) > 59)) {
    return 'has an invalid time zone offset';
  }
  if (frac && frac.length > 3 && /[1-9]/.test(frac.slice(3))) {
    return 'has more precision than milliseconds, which would be lost';
  }
  const date = new Date(value.toUpperCase());
  if (Number.isNaN(date.getTime())) return 'is not a valid date-time';
  // Checked after the offset is applied: 9999-12-31T23:00:00-02:00 is already year 10000 in UTC.
  return outOfRange(date) ? OUT_OF_RANGE : date;
}

/** Parses YYYY-MM-DD as the start of that day in UTC. */
export function parseDateOnly(value: string): Date | string {
  const m = DATE_ONLY.exec(value);
  if (!m) return 'must be a date in the format YYYY-MM-DD';
  const [, y, mo, d] = m;
  if (!validCalendarDate(Number(y), Number(mo), Number(d))) return 'is not a real calendar date';
  const date = utcDate(Number(y), Number(mo) - 1, Number(d));
  return outOfRange(date) ? OUT_OF_RANGE : date;
}

/** Whether an instant lies outside the range every surface accepts. */
export function outOfRange(date: Date): boolean {
  return date.getTime() < SUPPORTED_RANGE.earliestMs || date.getTime() > SUPPORTED_RANGE.latestMs;
}

/**
 * A half-open window [since, until) as the database can compare it. Bounds derived from accepted
 * input (the start of the day after an inclusive 9999-12-31, one millisecond past an inclusive
 * instant, 30 days back from one) may lie just outside the supported range, where nothing can be
 * stored; each is moved to the range's edge, which matches exactly the same events.
 */
export function storableWindow(since: Date | undefined, until: Date | undefined) {
  const { earliestMs, latestMs } = SUPPORTED_RANGE;
  // Starting after the last storable instant: nothing can match.
  if (since && since.getTime() > latestMs) return { since: new Date(latestMs), until: new Date(latestMs) };
  return {
    since: since && since.getTime() < earliestMs ? new Date(earliestMs) : since,
    until:
      until === undefined || until.getTime() > latestMs
        ? undefined
        : until.getTime() < earliestMs
          ? new Date(earliestMs)
          : until,
  };
}

/**
 * Midnight UTC of a day. Date.UTC reads years 0 to 99 as 1900 to 1999, so the year is set on its
 * own, as written.
 */
function utcDate(y: number, monthIndex: number, d: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(y, monthIndex, d);
  return date;
}

export function isDateOnly(value: string): boolean {
  return DATE_ONLY.test(value);
}

function validCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  // Day 0 of the next month is the last day of this one (proleptic Gregorian, so 0000 is a leap year).
  return d <= utcDate(y, m, 0).getUTCDate();
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export function addDays(date: Date, days: number): Date {
  return new Date(date.getTime() + days * DAY_MS);
}

export function addMonths(date: Date, months: number): Date {
  const d = new Date(date.getTime());
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}
