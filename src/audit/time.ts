// Strict timestamp parsing shared by every surface. A date-time must carry `Z` or an offset:
// one without is refused rather than read in the server's local time zone.

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
  return date;
}

/** Parses YYYY-MM-DD as the start of that day in UTC. */
export function parseDateOnly(value: string): Date | string {
  const m = DATE_ONLY.exec(value);
  if (!m) return 'must be a date in the format YYYY-MM-DD';
  const [, y, mo, d] = m;
  if (!validCalendarDate(Number(y), Number(mo), Number(d))) return 'is not a real calendar date';
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
}

export function isDateOnly(value: string): boolean {
  return DATE_ONLY.test(value);
}

function validCalendarDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
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
