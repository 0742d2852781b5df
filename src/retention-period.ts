// How long a tenant's events are kept (docs/retention.md): read from the operator's input
// (`30d`, `13 months`, `7y`, `P13M`, `forever`), stored as an ISO 8601 duration of one unit, and
// turned into the instant before which events are removed. Shared by the configuration (the
// default, RETENTION_DEFAULT) and the retention policy, so both accept exactly the same text.
import { ValidationError } from './errors.ts';

/** `P30D`, `P13M`, `P7Y` (one unit, as stored), or `forever`. */
export type RetentionPeriod = string & { readonly __retention: unique symbol };

export const FOREVER = 'forever' as RetentionPeriod;

/** The longest period accepted: a century is longer than any retention law asks for. */
const MAX_DAYS = 36_600;
const UNITS: Record<string, 'D' | 'W' | 'M' | 'Y'> = {
  d: 'D',
  day: 'D',
  days: 'D',
  w: 'W',
  week: 'W',
  weeks: 'W',
  mo: 'M',
  month: 'M',
  months: 'M',
  y: 'Y',
  yr: 'Y',
  year: 'Y',
  years: 'Y',
};
const DAYS_PER: Record<'D' | 'M' | 'Y', number> = { D: 1, M: 31, Y: 366 };

const EXPECTED = 'must be a period such as 30d, 13mo or 7y (days, weeks, months or years), or forever';

/** The stored form of a period the operator wrote; ValidationError naming `field` otherwise. */
export function parseRetentionPeriod(text: string, field: string): RetentionPeriod {
  const value = text.trim().toLowerCase();
  if (value === 'forever') return FOREVER;
  const match = /^p(\d+)([dwmy])$/.exec(value) ?? /^(\d+)\s*([a-z]+)$/.exec(value);
  if (!match) throw new ValidationError(field, `${EXPECTED}; got "${text}"`);
  const [, digits, word] = match as unknown as [string, string, string];
  if (word === 'm' && !value.startsWith('p'))
    throw new ValidationError(
      field,
      `"${text}" is ambiguous: write ${digits}mo for months or ${digits}d for days`,
    );
  let unit = value.startsWith('p') ? (word.toUpperCase() as 'D' | 'W' | 'M' | 'Y') : UNITS[word];
  if (!unit) throw new ValidationError(field, `${EXPECTED}; "${word}" is not a unit`);
  let amount = Number(digits);
  if (unit === 'W') {
    unit = 'D';
    amount *= 7;
  }
  if (amount < 1) throw new ValidationError(field, 'must be at least 1 day (or forever)');
  if (amount * DAYS_PER[unit] > MAX_DAYS)
    throw new ValidationError(field, 'must be at most 100 years (or forever)');
  return `P${amount}${unit}` as RetentionPeriod;
}

/** `P13M` → `13 months`, for messages and listings. */
export function describeRetentionPeriod(period: RetentionPeriod): string {
  if (period === FOREVER) return 'forever';
  const amount = Number(period.slice(1, -1));
  const unit = { D: 'day', M: 'month', Y: 'year' }[period.at(-1) as 'D' | 'M' | 'Y'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

/**
 * The instant before which events are past `period` at `now` (null: kept forever). Months and
 * years are calendar ones in UTC; a day that the earlier month lacks becomes its last day (one
 * month before 31 March is 28 or 29 February), so the cutoff is never later than the calendar
 * says and nothing is removed early.
 */
export function retentionCutoff(period: RetentionPeriod, now: Date): Date | null {
  if (period === FOREVER) return null;
  const amount = Number(period.slice(1, -1));
  const unit = period.at(-1);
  if (unit === 'D') return new Date(now.getTime() - amount * 86_400_000);
  const months = unit === 'Y' ? amount * 12 : amount;
  const target = new Date(now.getTime());
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() - months;
  // Day 0 of the month after is the last day of the target month.
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  target.setUTCFullYear(year, month, Math.min(now.getUTCDate(), lastDay));
  return target;
}
