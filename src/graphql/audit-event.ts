// The AuditEvent type with the queries that read events and the mutations that record them.
import { LIST_FILTER_NAMES, LIST_FILTERS, type ListFilterName, SEARCH } from '../audit/filters.ts';
import type { AuditEvent } from '../audit/model.ts';
import type { EventFilter, EventOrder, OrderField } from '../audit/service.ts';
import { builder } from './builder.ts';
import { selectsField } from './selection.ts';

const ActorRef = builder.objectRef<NonNullable<AuditEvent['actor']>>('Actor').implement({
  description: 'Who performed the action: a user, service account or system. Every field is optional.',
  fields: (t) => ({
    id: t.exposeString('id', {
      nullable: true,
      description: 'Stable identifier of the actor (Wasabi `user_id`, Mural `actor.id`).',
    }),
    email: t.expose('email', {
      type: 'EmailAddress',
      nullable: true,
      description: 'Email address of the actor (MadKudu `user_email`).',
    }),
    name: t.exposeString('name', { nullable: true, description: 'Display name of the actor.' }),
    type: t.exposeString('type', {
      nullable: true,
      description: 'Kind of actor, e.g. `USER` or `SERVICE`, as the producer sent it.',
    }),
    company: t.exposeString('company', {
      nullable: true,
      description: 'Company or workspace the actor belongs to.',
    }),
  }),
});

const TargetRef = builder.objectRef<NonNullable<AuditEvent['target']>>('Target').implement({
  description: 'What the action was performed on (Mural `affected`, Wasabi `target_kind`/`target_id`).',
  fields: (t) => ({
    kind: t.exposeString('kind', {
      nullable: true,
      description: 'Type or category of the target, e.g. `feature`, `COMPANY`.',
    }),
    id: t.exposeString('id', { nullable: true, description: 'Identifier of the target object.' }),
    name: t.exposeString('name', { nullable: true, description: 'Display name of the target.' }),
    email: t.expose('email', {
      type: 'EmailAddress',
      nullable: true,
      description: 'Email address of the target, when it is a person.',
    }),
    company: t.exposeString('company', { nullable: true, description: 'Company the target belongs to.' }),
  }),
});

const FeatureRef = builder.objectRef<NonNullable<AuditEvent['feature']>>('Feature').implement({
  description:
    'The part of the product where the action happened, with free-form context (MadKudu `feature`).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Name of the feature or environment, e.g. `general`.' }),
    metas: t.expose('metas', {
      type: 'JSONObject',
      description: 'Free-form context of the feature; `{}` when none.',
    }),
  }),
});

export const AuditEventRef = builder.objectRef<AuditEvent>('AuditEvent');

builder.node(AuditEventRef, {
  description:
    'One recorded action: who did what, to which target, when and from where. Events are immutable and ' +
    "belong to exactly one tenant; each carries its place in the tenant's hash chain.",
  id: { resolve: (e) => e.id },
  // Pothos brands loaded nodes, but a node served from its per-request cache to a second field
  // arrives unbranded; recognise events by shape instead: a projected read (event-fields.ts)
  // always holds these two, whatever the selection.
  isTypeOf: (value) =>
    typeof value === 'object' && value !== null && 'sequence' in value && 'occurredAt' in value,
  loadMany: (ids, ctx) => Promise.all(ids.map((id) => ctx.loaders.event.load(id))),
  fields: (t) => ({
    sequence: t.expose('sequence', {
      type: 'SafeInt',
      description:
        "Position in the tenant's hash chain: 1, 2, 3… with no gaps, in the order events were stored.",
    }),
    action: t.exposeString('action', {
      description: 'Machine name of the action, e.g. `user.login.success`, `CREATE_MURAL`, `logged-in`.',
    }),
    name: t.exposeString('name', {
      nullable: true,
      description: 'Short name of the event (Replicated `name`).',
    }),
    title: t.exposeString('title', {
      nullable: true,
      description: 'Human-readable title (Replicated `title`).',
    }),
    description: t.exposeString('description', {
      nullable: true,
      description: 'Human-readable description (Replicated `description`).',
    }),
    actor: t.field({
      type: ActorRef,
      nullable: true,
      description: 'Who performed the action; null when unknown.',
      resolve: (e) => e.actor,
    }),
    groupId: t.exposeString('groupId', {
      nullable: true,
      description: 'Group the actor acted in (Wasabi `group_id`).',
    }),
    target: t.field({
      type: TargetRef,
      nullable: true,
      description: 'What the action was performed on; null when none.',
      resolve: (e) => e.target,
    }),
    additionalId: t.exposeString('additionalId', {
      nullable: true,
      description:
        'Id of an additional object involved, e.g. the group added to a location (Wasabi `additional_id`).',
    }),
    feature: t.field({
      type: FeatureRef,
      nullable: true,
      description: 'Product area and context (MadKudu `feature`); null when not given.',
      resolve: (e) => e.feature,
    }),
    ipAddress: t.expose('ipAddress', {
      type: 'IPAddress',
      nullable: true,
      description: 'Address the action came from, as recorded.',
    }),
    occurredAt: t.expose('occurredAt', {
      type: 'DateTime',
      description:
        'When the action happened, as the producer stated it (defaults to the time it was received).',
    }),
    sentAt: t.expose('sentAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the producer sent the event, if it said.',
    }),
    receivedAt: t.expose('receivedAt', {
      type: 'DateTime',
      description: 'When the gateway received the event; set by the server.',
    }),
    metadata: t.expose('metadata', {
      type: 'JSONObject',
      description: 'Free-form JSON object attached by the producer; `{}` when none.',
    }),
    hash: t.exposeString('hash', {
      description:
        "SHA-256 (hex) of the event's canonical serialization, which includes the previous event's hash.",
    }),
  }),
});

// ---------------------------------------------------------------------------------------------
// Reading

const OrderFieldEnum = builder.enumType('AuditEventOrderField', {
  description:
    'What to sort events by. Ties are always broken by occurrence time, then id, in the same direction.',
  values: {
    OCCURRED_AT: { value: 'occurredAt', description: 'Occurrence time (the default).' },
    ACTOR: { value: 'actor', description: 'Actor id; events without an actor sort as the empty string.' },
    ACTION: { value: 'action', description: 'Action name.' },
    TARGET_KIND: {
      value: 'targetKind',
      description: 'Target kind; events without one sort as the empty string.',
    },
    GROUP: { value: 'group', description: 'Group id; events without one sort as the empty string.' },
  } as const,
});

const DirectionEnum = builder.enumType('OrderDirection', {
  description: 'Sort direction.',
  values: {
    ASC: { value: 'asc', description: 'Smallest or oldest first.' },
    DESC: { value: 'desc', description: 'Largest or newest first.' },
  } as const,
});

const AuditEventOrder = builder.inputType('AuditEventOrder', {
  description: 'Sort order of an event listing. Default: newest first by occurrence time.',
  fields: (t) => ({
    field: t.field({
      type: OrderFieldEnum,
      defaultValue: 'occurredAt',
      description: 'Sort key (default OCCURRED_AT).',
    }),
    direction: t.field({
      type: DirectionEnum,
      defaultValue: 'desc',
      description: 'Direction (default DESC).',
    }),
  }),
});

/** The GraphQL scalar each kind of filter value is checked by. */
const FILTER_SCALARS = { text: 'String', email: 'EmailAddress', ip: 'IPAddress' } as const;

export const AuditEventFilter = builder.inputType('AuditEventFilter', {
  description:
    'Narrows an event listing. All given fields must match (AND); a list matches any of its values (OR). ' +
    'Lists hold at most 100 values.',
  fields: (t) => ({
    since: t.field({
      type: 'DateTime',
      description: 'Only events that occurred at or after this instant (inclusive).',
    }),
    until: t.field({
      type: 'DateTime',
      description: 'Only events that occurred before this instant (exclusive).',
    }),
    search: t.string({ description: SEARCH.description }),
    ...Object.fromEntries(
      LIST_FILTER_NAMES.map((name) => {
        const { kind, description } = LIST_FILTERS[name];
        return [name, t.field({ type: [FILTER_SCALARS[kind]], description })];
      }),
    ),
  }),
});

type FilterArg = typeof AuditEventFilter.$inferInput | null | undefined;

export function toFilter(f: FilterArg): EventFilter {
  if (!f) return {};
  const filter: EventFilter = {
    since: f.since ?? undefined,
    until: f.until ?? undefined,
    search: f.search ?? undefined,
  };
  const lists = f as Partial<Record<ListFilterName, string[] | null>>;
  for (const name of LIST_FILTER_NAMES) filter[name] = lists[name] ?? undefined;
  return filter;
}

function toOrder(o: typeof AuditEventOrder.$inferInput | null | undefined): EventOrder {
  return { field: (o?.field ?? 'occurredAt') as OrderField, direction: o?.direction ?? 'desc' };
}

const TargetKindFilterRef = builder
  .objectRef<{ name: string; actions: string[] }>('TargetKindFilter')
  .implement({
    description: 'A target kind seen in your events, with the actions seen on it.',
    fields: (t) => ({
      name: t.exposeString('name', { description: 'The target kind.' }),
      actions: t.exposeStringList('actions', {
        description: 'Actions recorded on targets of this kind, sorted.',
      }),
    }),
  });

const TimeRangeRef = builder
  .objectRef<{ earliest: Date | null; latest: Date | null }>('TimeRange')
  .implement({
    description: 'The span of occurrence times covered by your events.',
    fields: (t) => ({
      earliest: t.expose('earliest', {
        type: 'DateTime',
        nullable: true,
        description: 'Oldest occurrence time; null with no events.',
      }),
      latest: t.expose('latest', {
        type: 'DateTime',
        nullable: true,
        description: 'Newest occurrence time; null with no events.',
      }),
    }),
  });

type AvailableFiltersShape = Awaited<
  ReturnType<import('../audit/service.ts').AuditService['availableFilters']>
>;

const AvailableFiltersRef = builder.objectRef<AvailableFiltersShape>('AvailableFilters').implement({
  description: 'Values you can filter on, taken from a catalog kept at ingest (no scan of your events).',
  fields: (t) => ({
    actions: t.exposeStringList('actions', { description: 'Every action recorded, sorted.' }),
    targetKinds: t.field({
      type: [TargetKindFilterRef],
      description: 'Every target kind, each with its actions.',
      resolve: (f) => f.targetKinds,
    }),
    actorTypes: t.exposeStringList('actorTypes', { description: 'Every actor type recorded, sorted.' }),
    timeRange: t.field({
      type: TimeRangeRef,
      description: 'Oldest and newest occurrence time.',
      resolve: (f) => ({ earliest: f.earliest, latest: f.latest }),
    }),
  }),
});

builder.queryFields((t) => ({
  auditEvents: t.connection(
    {
      type: AuditEventRef,
      description:
        "Your tenant's events, filtered and sorted, as a Relay connection with keyset paging: pages never skip or " +
        'repeat an event, even while new events arrive. Default page size 50, maximum 500.',
      args: {
        filter: t.arg({
          type: AuditEventFilter,
          description: 'Which events to include; all of them when omitted.',
        }),
        orderBy: t.arg({
          type: AuditEventOrder,
          description: 'Sort order; newest first by occurrence time when omitted.',
        }),
      },
      resolve: async (_root, args, ctx, info) => {
        const filter = toFilter(args.filter);
        const page = await ctx.audit.listEvents(ctx.viewer, filter, toOrder(args.orderBy), args, {
          withStreamPosition: selectsField(info, 'streamPosition'),
          fields: ctx.eventSelection.fields,
        });
        return { ...page, filter };
      },
    },
    {
      description: 'A page of audit events.',
      fields: (c) => ({
        totalCount: c.field({
          type: 'SafeInt',
          description:
            'How many events match the filter in all. Counted only when asked for; costs a scan of the matches.',
          resolve: (conn, _args, ctx) =>
            ctx.audit.countEvents(ctx.viewer, (conn as unknown as { filter: EventFilter }).filter),
        }),
        streamPosition: c.string({
          description:
            "Where `auditEventStream(after:)` continues this page: the tenant's last committed event as read in the " +
            'same snapshot as the page, so the stream delivers exactly the events committed after it (none missed, none ' +
            'twice, whatever their `occurredAt`). Opaque and signed; valid for this tenant with any filter.',
          resolve: (conn) => {
            const position = (conn as unknown as { streamPosition?: string }).streamPosition;
            if (position === undefined) throw new Error('streamPosition was not read with the page');
            return position;
          },
        }),
      }),
    },
    { description: 'An audit event and its cursor.' },
  ),
  event: t.field({
    type: AuditEventRef,
    nullable: true,
    description:
      'One of your events by id (the UUID every API returns). Null when it does not exist or belongs to another tenant.',
    args: { id: t.arg.id({ required: true, description: 'The event id.' }) },
    resolve: (_root, args, ctx) => ctx.loaders.event.load(String(args.id)),
  }),
  availableFilters: t.field({
    type: AvailableFiltersRef,
    description:
      'What you can filter on: actions, target kinds with their actions, actor types, and the time range.',
    resolve: (_root, _args, ctx) => ctx.audit.availableFilters(ctx.viewer),
  }),
}));

// ---------------------------------------------------------------------------------------------
// Recording

const ActorInput = builder.inputType('ActorInput', {
  description: 'Who performed the action. Give at least the fields you know.',
  fields: (t) => ({
    id: t.string({ description: 'Stable identifier of the actor (at most 256 characters).' }),
    email: t.field({ type: 'EmailAddress', description: 'Email address of the actor.' }),
    name: t.string({ description: 'Display name.' }),
    type: t.string({ description: 'Kind of actor, e.g. `USER`.' }),
    company: t.string({ description: 'Company or workspace.' }),
  }),
});

const TargetInput = builder.inputType('TargetInput', {
  description: 'What the action was performed on.',
  fields: (t) => ({
    kind: t.string({ description: 'Type or category of the target.' }),
    id: t.string({ description: 'Identifier of the target object.' }),
    name: t.string({ description: 'Display name.' }),
    email: t.field({ type: 'EmailAddress', description: 'Email address, when the target is a person.' }),
    company: t.string({ description: 'Company the target belongs to.' }),
  }),
});

const FeatureInput = builder.inputType('FeatureInput', {
  description: 'Product area and context (MadKudu `feature`).',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Name of the feature, e.g. `general`.' }),
    metas: t.field({ type: 'JSONObject', description: 'Free-form context, at most 8 KiB as JSON.' }),
  }),
});

export const RecordEventInput = builder.inputType('RecordEventInput', {
  description:
    'An event to record. Text may not contain NUL or other control characters (tab and newline are allowed in ' +
    '`title` and `description`). The server sets `id`, `sequence`, `receivedAt` and `hash`.',
  fields: (t) => ({
    action: t.string({ required: true, description: 'Machine name of the action, 1 to 200 characters.' }),
    name: t.string({ description: 'Short name of the event.' }),
    title: t.string({ description: 'Human-readable title, at most 512 characters.' }),
    description: t.string({ description: 'Human-readable description, at most 8192 characters.' }),
    actor: t.field({ type: ActorInput, description: 'Who performed the action.' }),
    groupId: t.string({ description: 'Group the actor acted in.' }),
    target: t.field({ type: TargetInput, description: 'What the action was performed on.' }),
    additionalId: t.string({ description: 'Id of an additional object involved.' }),
    feature: t.field({ type: FeatureInput, description: 'Product area and context.' }),
    ipAddress: t.field({ type: 'IPAddress', description: 'Address the action came from.' }),
    occurredAt: t.field({
      type: 'DateTime',
      description:
        'When the action happened; defaults to now. At most 24 hours in the future, not before 1970.',
    }),
    sentAt: t.field({ type: 'DateTime', description: 'When the producer sent the event.' }),
    metadata: t.field({
      type: 'JSONObject',
      description: 'Free-form JSON object, at most 16 KiB and 8 levels deep.',
    }),
    idempotencyKey: t.string({
      description:
        'Makes retries safe: a second call with the same key returns the original event and stores nothing; the same ' +
        'key with a different event is refused with CONFLICT. Keys are per tenant, at most 200 characters.',
    }),
  }),
});

const RecordEventSuccessRef = builder
  .objectRef<{ index: number; event: AuditEvent; replayed: boolean }>('RecordEventSuccess')
  .implement({
    description: 'An event of the batch that is stored (committed before the response was sent).',
    fields: (t) => ({
      index: t.exposeInt('index', { description: 'Position of the input in `inputs`, from 0.' }),
      event: t.field({ type: AuditEventRef, description: 'The stored event.', resolve: (r) => r.event }),
      replayed: t.exposeBoolean('replayed', {
        description:
          'True when the idempotency key was seen before and this is the original event, not a new one.',
      }),
    }),
  });

const RecordEventFailureRef = builder
  .objectRef<{ index: number; code: string; field: string; message: string }>('RecordEventFailure')
  .implement({
    description: 'An event of the batch that was refused; nothing of it was stored.',
    fields: (t) => ({
      index: t.exposeInt('index', { description: 'Position of the input in `inputs`, from 0.' }),
      code: t.exposeString('code', {
        description: '`BAD_USER_INPUT` or `CONFLICT` (idempotency key reused).',
      }),
      field: t.exposeString('field', { description: 'The offending field, e.g. `inputs[3].actor.email`.' }),
      message: t.exposeString('message', { description: 'Why it was refused.' }),
    }),
  });

const RecordEventResultRef = builder.unionType('RecordEventResult', {
  description: 'The outcome of one input of `recordEvents`.',
  types: [RecordEventSuccessRef, RecordEventFailureRef],
  resolveType: (r) => ('event' in r ? RecordEventSuccessRef : RecordEventFailureRef),
});

builder.mutationFields((t) => ({
  recordEvent: t.field({
    type: AuditEventRef,
    description:
      'Validates and stores one event, and returns it once it is committed. Needs the `write` scope. Invalid input ' +
      'is refused with BAD_USER_INPUT naming the field; nothing is stored.',
    args: { input: t.arg({ type: RecordEventInput, required: true, description: 'The event.' }) },
    resolve: async (_root, args, ctx) => {
      const { event } = await ctx.audit.recordEvent(ctx.viewer, args.input, 'input');
      return event;
    },
  }),
  recordEvents: t.field({
    type: [RecordEventResultRef],
    description:
      'Stores up to 1000 events at once and returns one result per input, in order. An invalid input is refused on ' +
      'its own and does not stop the others. Every stored event is committed before the response. Needs `write`.',
    args: {
      inputs: t.arg({ type: [RecordEventInput], required: true, description: 'The events, at most 1000.' }),
    },
    resolve: async (_root, args, ctx) => {
      const results = await ctx.audit.recordEvents(ctx.viewer, args.inputs, 'inputs');
      return results.map((r, index) =>
        r.ok
          ? { index, event: r.event, replayed: r.replayed }
          : { index, code: r.error.code, field: r.error.field, message: r.error.message },
      );
    },
  }),
}));
