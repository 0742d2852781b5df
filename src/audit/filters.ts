// The event filters, described once. A list filter's entry here drives its validation, its type
// (EventFilter), the GraphQL input field and list limit (src/graphql/audit-event.ts,
// list-limits.ts); its SQL is the entry of the same name in src/audit/repository/event-reads.ts,
// which the compiler requires for every name here.
import { ValidationError } from '../errors.ts';
import { type AuditEvent, LIMITS, textProblem } from './model.ts';
import { storableWindow } from './time.ts';
import type { Restriction } from './viewer.ts';

/** The most values one list filter may hold. */
export const MAX_FILTER_VALUES = 100;

/**
 * The list filters: each matches events whose field equals any of its values. `kind` says what a
 * value must look like on the wire (GraphQL scalars check emails and IP addresses); every value is
 * a non-empty storable string of at most LIMITS.email characters either way. The order is the
 * order of the SQL conditions.
 */
export const LIST_FILTERS = {
  actions: { kind: 'text', description: 'Only these actions.' },
  actorIds: { kind: 'text', description: 'Only events by these actor ids.' },
  targetKinds: { kind: 'text', description: 'Only events on targets of these kinds.' },
  groupIds: { kind: 'text', description: 'Only events in these groups.' },
  actorEmails: { kind: 'email', description: 'Only events by actors with these emails (exact match).' },
  targetIds: { kind: 'text', description: 'Only events on these target ids.' },
  ipAddresses: { kind: 'ip', description: 'Only events from these IP addresses (exact match).' },
} as const satisfies Record<string, { kind: 'text' | 'email' | 'ip'; description: string }>;

/**
 * The free-text filter (docs/analysts.md#search): words that must all occur, each as a substring
 * of the event's searchable text, ignoring case and accents. A trigram index serves it, so a word
 * needs three letters or digits in a row; a query that still runs too long is cancelled
 * (SEARCH_TIMEOUT_MS) with an error on the field.
 */
export const SEARCH = {
  description:
    'Free text: every word (split at spaces) must occur somewhere in the action, name, title, description, actor ' +
    'name or email, target name or id, or a metadata value; a word may be part of a longer one ' +
    '("voice" finds "Invoice", "inv-4711" finds "INV-4711/2"). Case and accents are ignored ("ecole" finds ' +
    '"École"); `%`, `_` and `\\` are plain characters. Each word needs at least 3 letters or digits in a row; ' +
    'at most 8 words and 200 characters. A search that runs too long is stopped with an error: add a rarer ' +
    'word or a time window.',
  maxLength: 200,
  maxWords: 8,
  minRun: 3,
} as const;

/** Enough letters or digits in a row for the trigram index to narrow the search. */
const indexableRun = /[\p{L}\p{N}]{3}/u; // SEARCH.minRun

export type ListFilterName = keyof typeof LIST_FILTERS;
export const LIST_FILTER_NAMES = Object.keys(LIST_FILTERS) as ListFilterName[];

export type EventFilter = {
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
  /** Free text (SEARCH); after validation, its words joined by single spaces. */
  search?: string | undefined;
} & { [name in ListFilterName]?: string[] | undefined };

/** Why a value of a list filter cannot be compared with stored text, or null when it can. */
export function listValueProblem(v: string): string | null {
  if (v.length === 0) return 'must not contain empty strings';
  if (v.length > LIMITS.email) return 'values are too long';
  return textProblem(v, true);
}

/** Checks filter values: bounded lists of storable strings and a time window that is not inverted. */
export function validateFilter(f: EventFilter, field: string): EventFilter {
  for (const name of LIST_FILTER_NAMES) {
    const values = f[name];
    if (!values) continue;
    if (values.length > MAX_FILTER_VALUES) {
      throw new ValidationError(`${field}.${name}`, `must list at most ${MAX_FILTER_VALUES} values`);
    }
    for (const v of values) {
      const problem = listValueProblem(v);
      if (problem) throw new ValidationError(`${field}.${name}`, problem);
    }
  }
  if (f.since && f.until && f.since.getTime() > f.until.getTime()) {
    throw new ValidationError(`${field}.until`, 'must not be before since');
  }
  const { since, until } = storableWindow(f.since, f.until);
  const search = f.search === undefined ? undefined : searchWords(f.search, `${field}.search`).join(' ');
  return { ...f, since, until, search };
}

/** The words of a search term; ValidationError on `field` when one is too short to be indexed. */
export function searchWords(term: string, field: string): string[] {
  if (term.length > SEARCH.maxLength) {
    throw new ValidationError(field, `must be at most ${SEARCH.maxLength} characters`);
  }
  const problem = textProblem(term, false);
  if (problem) throw new ValidationError(field, problem);
  const words = term.split(/\s+/u).filter((w) => w.length > 0);
  if (words.length === 0) throw new ValidationError(field, 'must contain a word');
  if (words.length > SEARCH.maxWords) {
    throw new ValidationError(field, `must contain at most ${SEARCH.maxWords} words`);
  }
  for (const word of words) {
    if (!indexableRun.test(word)) {
      throw new ValidationError(
        field,
        `every word needs at least ${SEARCH.minRun} letters or digits in a row; "${word}" is too short to search for`,
      );
    }
  }
  return words;
}

/**
 * Each list filter's value on an event, as the SQL of the same name in FILTER_SQL
 * (src/audit/repository/event-reads.ts) compares it: the `coalesce(…, '')` columns read an absent
 * value as the empty string, the others as null, which matches nothing. The live tail matches
 * events already read against many subscribers' filters in memory with these; its tests check
 * that it delivers what a listing with the same filter returns.
 */
const FILTER_VALUES: Record<ListFilterName, (e: AuditEvent) => string | null> = {
  actions: (e) => e.action,
  actorIds: (e) => e.actor?.id ?? '',
  targetKinds: (e) => e.target?.kind ?? '',
  groupIds: (e) => e.groupId ?? '',
  actorEmails: (e) => e.actor?.email ?? null,
  targetIds: (e) => e.target?.id ?? null,
  ipAddresses: (e) => e.ipAddress ?? null,
};

/** Whether an event passes a (validated) filter and a viewer's restriction, as a listing would decide. */
export function eventMatches(e: AuditEvent, f: EventFilter, restriction?: Restriction): boolean {
  const at = e.occurredAt.getTime();
  if (f.since && at < f.since.getTime()) return false;
  if (f.until && at >= f.until.getTime()) return false;
  for (const name of LIST_FILTER_NAMES) {
    const values = f[name];
    if (values?.length && !includes(values, FILTER_VALUES[name](e))) return false;
  }
  if (!restriction) return true;
  for (const name of ['actions', 'actorIds', 'targetIds', 'groupIds'] as const) {
    const values = restriction[name];
    // An empty list in a restriction matches nothing (see restrictionConditions).
    if (values && !includes(values, FILTER_VALUES[name](e))) return false;
  }
  return true;
}

const includes = (values: readonly string[], value: string | null) =>
  value !== null && values.includes(value);
