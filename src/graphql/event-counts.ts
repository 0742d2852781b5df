// The auditEventCounts query and its types: counts of events grouped by up to two dimensions and
// bucketed by time in an IANA zone, with the top groups and an "other" remainder.
import { COUNT_LIMITS, type CountDimension, type CountGroup, type EventCounts } from '../audit/counts.ts';
import { AuditEventFilter, toFilter } from './audit-event.ts';
import { builder } from './builder.ts';

const DimensionEnum = builder.enumType('AuditEventCountDimension', {
  description:
    'What `auditEventCounts` can group events by. Events without the value form a group of their own.',
  values: {
    ACTION: { value: 'action', description: 'The action.' },
    ACTOR: { value: 'actor', description: 'The actor id.' },
    TARGET_KIND: { value: 'targetKind', description: 'The target kind.' },
    TARGET: { value: 'target', description: 'The target id.' },
    GROUP: { value: 'group', description: 'The group id.' },
    IP_ADDRESS: { value: 'ipAddress', description: 'The IP address the action came from.' },
  } as const,
});

const IntervalEnum = builder.enumType('AuditEventCountInterval', {
  description:
    'Length of a time bucket. DAY, WEEK and MONTH are calendar units of the requested time zone, so a day ' +
    'on which daylight saving starts lasts 23 hours and one on which it ends 25. HOUR buckets are real hours ' +
    '(such a day has 23 or 25 of them), aligned to the zone.',
  values: {
    HOUR: { value: 'hour', description: 'One hour.' },
    DAY: { value: 'day', description: 'A local calendar day, from midnight to midnight.' },
    WEEK: { value: 'week', description: 'A local week, from Monday midnight (ISO 8601).' },
    MONTH: { value: 'month', description: 'A local calendar month.' },
  } as const,
});

const GroupKeyRef = builder.objectRef<CountGroup['key']>('AuditEventCountKey').implement({
  description:
    "A group's values, one per dimension it was grouped by. A field is null when the query did not group by " +
    'it, or when the events of the group have no such value.',
  fields: (t) => {
    const key = (dimension: CountDimension, description: string) =>
      t.string({ nullable: true, description, resolve: (k) => k[dimension] ?? null });
    return {
      action: key('action', 'The action (ACTION).'),
      actorId: key('actor', 'The actor id (ACTOR).'),
      targetKind: key('targetKind', 'The target kind (TARGET_KIND).'),
      targetId: key('target', 'The target id (TARGET).'),
      groupId: key('group', 'The group id (GROUP).'),
      ipAddress: key('ipAddress', 'The IP address (IP_ADDRESS).'),
    };
  },
});

const GroupRef = builder.objectRef<CountGroup>('AuditEventCountGroup').implement({
  description: 'One group of events and how many there are.',
  fields: (t) => ({
    key: t.field({ type: GroupKeyRef, description: "The group's values.", resolve: (g) => g.key }),
    count: t.expose('count', { type: 'SafeInt', description: 'How many matching events the group holds.' }),
    buckets: t.field({
      type: ['SafeInt'],
      description:
        "The group's count in each time bucket, in the order of `AuditEventCounts.buckets` (zeros included); " +
        'empty without an interval.',
      resolve: (g) => g.buckets,
    }),
  }),
});

const BucketRef = builder.objectRef<EventCounts['buckets'][number]>('AuditEventCountBucket').implement({
  description: 'One time bucket: [start, end), with every matching event in it.',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'Where the bucket starts (inclusive).' }),
    end: t.expose('end', {
      type: 'DateTime',
      description:
        "Where it ends (exclusive): the next bucket's start, or the window's end for the last one.",
    }),
    count: t.expose('count', {
      type: 'SafeInt',
      description: 'Matching events in the bucket; 0 for an empty one.',
    }),
    other: t.expose('other', {
      type: 'SafeInt',
      description: "Of those, the events in no listed group: `count` minus the listed groups' counts here.",
    }),
  }),
});

const CountsRef = builder.objectRef<EventCounts>('AuditEventCounts').implement({
  description:
    "Counts of matching events. They add up: `total` = the sum of the groups' counts + `other`, and each " +
    "bucket's `count` = the sum of the groups' counts in it + its `other`; the buckets' counts sum to `total`.",
  fields: (t) => ({
    total: t.expose('total', {
      type: 'SafeInt',
      description:
        'Every matching event (what `auditEvents(filter:).totalCount` answers for the same filter).',
    }),
    groups: t.field({
      type: [GroupRef],
      description:
        'The `first` largest groups, most events first (ties by value, in byte order); empty without `groupBy`.',
      resolve: (c) => c.groups,
    }),
    other: t.expose('other', {
      type: 'SafeInt',
      description: 'Events in the groups not listed; 0 without `groupBy`.',
    }),
    otherGroups: t.expose('otherGroups', {
      type: 'SafeInt',
      description: 'How many groups `other` holds.',
    }),
    buckets: t.field({
      type: [BucketRef],
      description:
        'Every time bucket of the window, oldest first, empty ones included; empty without `interval`. The first starts at the bucket holding `filter.since`.',
      resolve: (c) => c.buckets,
    }),
    interval: t.field({
      type: IntervalEnum,
      nullable: true,
      description: 'The bucket length asked for; null without one.',
      resolve: (c) => c.interval,
    }),
    timeZone: t.exposeString('timeZone', { description: 'The IANA time zone the buckets are cut in.' }),
  }),
});

builder.queryFields((t) => ({
  auditEventCounts: t.field({
    type: CountsRef,
    description:
      'How many events match the filter, grouped by up to two dimensions and bucketed by time: "sign-in ' +
      'failures per day this month, and who had the most". Exact, and the same events `auditEvents` lists for ' +
      'the filter. Costs a scan of the matches.',
    args: {
      filter: t.arg({
        type: AuditEventFilter,
        description:
          'Which events to count; all of them when omitted. With an interval, `since` is required and `until` defaults to now.',
      }),
      groupBy: t.arg({
        type: [DimensionEnum],
        description: `The dimensions to group by, at most ${COUNT_LIMITS.dimensions} and each once; a group is one combination of their values. Omitted: no groups, only the total (and buckets).`,
      }),
      interval: t.arg({
        type: IntervalEnum,
        description: `Bucket the counts by this interval over [filter.since, filter.until); at most ${COUNT_LIMITS.maxBuckets} buckets.`,
      }),
      timeZone: t.arg.string({
        description:
          'IANA time zone the buckets are cut in, e.g. `Europe/Berlin`; default `UTC`. Offsets and POSIX rules such as `UTC+3` are refused.',
      }),
      first: t.arg.int({
        description: `How many of the largest groups to list, 1 to ${COUNT_LIMITS.maxGroups} (default ${COUNT_LIMITS.defaultGroups}); the rest are counted in \`other\`. Needs groupBy. With an interval, groups × buckets may be at most ${COUNT_LIMITS.maxCells}.`,
      }),
    },
    resolve: (_root, args, ctx) =>
      ctx.audit.countEventsBy(ctx.viewer, toFilter(args.filter), {
        groupBy: args.groupBy as CountDimension[] | null | undefined,
        interval: args.interval,
        timeZone: args.timeZone,
        first: args.first,
      }),
  }),
}));
