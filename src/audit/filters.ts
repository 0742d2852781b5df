// The event filters, described once. A list filter's entry here drives its validation, its type
// (EventFilter), the GraphQL input field and list limit (src/graphql/audit-event.ts,
// list-limits.ts); its SQL is the entry of the same name in src/audit/repository/event-reads.ts,
// which the compiler requires for every name here.
import { ValidationError } from '../errors.ts';
import { LIMITS, textProblem } from './model.ts';
import { storableWindow } from './time.ts';

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

export type ListFilterName = keyof typeof LIST_FILTERS;
export const LIST_FILTER_NAMES = Object.keys(LIST_FILTERS) as ListFilterName[];

export type EventFilter = {
  /** Inclusive. */
  since?: Date | undefined;
  /** Exclusive. */
  until?: Date | undefined;
} & { [name in ListFilterName]?: string[] | undefined };

/** Checks filter values: bounded lists of storable strings and a time window that is not inverted. */
export function validateFilter(f: EventFilter, field: string): EventFilter {
  for (const name of LIST_FILTER_NAMES) {
    const values = f[name];
    if (!values) continue;
    if (values.length > MAX_FILTER_VALUES) {
      throw new ValidationError(`${field}.${name}`, `must list at most ${MAX_FILTER_VALUES} values`);
    }
    for (const v of values) {
      const problem =
        v.length === 0
          ? 'must not contain empty strings'
          : v.length > LIMITS.email
            ? 'values are too long'
            : textProblem(v, true);
      if (problem) throw new ValidationError(`${field}.${name}`, problem);
    }
  }
  if (f.since && f.until && f.since.getTime() > f.until.getTime()) {
    throw new ValidationError(`${field}.until`, 'must not be before since');
  }
  const { since, until } = storableWindow(f.since, f.until);
  return { ...f, since, until };
}
