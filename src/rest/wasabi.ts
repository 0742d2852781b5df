// Wasabi AiR audit API (Wasabi AiR documentation, "Audit API in Wasabi AiR"; restated in
// docs/compat/wasabi.md):
//   GET /api/data/audit?user_id&group_id&target_kind&target_id&action_key&from&to&order&page&count
//   GET /api/data/audit/filters
//   GET /api/data/audit/{id}
// Page-numbered: `page` from 0, `count` per page, and `total` matching records.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AuditEvent, EventField } from '../audit/model.ts';
import type { AuditService, OrderField } from '../audit/service.ts';
import { parseDateTime } from '../audit/time.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { AppEnv } from '../http/http-env.ts';
import { errorResponses, errorResponsesWithoutBadRequest, notFoundResponse } from './errors.ts';
import { enumParam, eventIdParam, intParam, textParam } from './params.ts';
import { security, viewerOf } from './security.ts';

export const WASABI = { defaultCount: 20, maxCount: 1000, maxPage: 1_000_000 } as const;

const ORDERS = ['user_id', 'group_id', 'target_kind', 'action_key', 'ctime'] as const;
const orderField: Record<(typeof ORDERS)[number], OrderField> = {
  user_id: 'actor',
  group_id: 'group',
  target_kind: 'targetKind',
  action_key: 'action',
  ctime: 'occurredAt',
};

const fields = {
  id: z
    .string()
    .openapi({ description: 'The ID of the event.', example: '59de4bb09221034b071d83db64950d34' }),
  user_id: z.string().nullable().openapi({ description: 'The ID of the user who initiated the event.' }),
  action_key: z
    .string()
    .openapi({ description: 'The specific action taken on the target.', example: 'login' }),
  target_kind: z
    .string()
    .nullable()
    .openapi({ description: 'The type or category of the target.', example: 'authenticate' }),
  target_id: z.string().nullable().openapi({ description: 'The ID of the target object.' }),
  time: z.string().openapi({
    description: 'The timestamp of the event (UTC, milliseconds).',
    format: 'date-time',
    example: '2017-10-11T16:49:52.758Z',
  }),
};
const WasabiEvent = z.object(fields).openapi('WasabiAuditEvent');
const WasabiEventDetail = z
  .object({
    ...fields,
    additional_id: z
      .string()
      .optional()
      .openapi({ description: 'ID of an additional object, present for some events.' }),
  })
  .openapi('WasabiAuditEventDetail');

/** What a Wasabi record shows (toWasabi): a listing reads only these fields' columns. */
const WASABI_FIELDS = [
  'id',
  'actor',
  'action',
  'target',
  'occurredAt',
] as const satisfies readonly EventField[];

function toWasabi(e: AuditEvent) {
  return {
    id: e.id,
    user_id: e.actor?.id ?? null,
    action_key: e.action,
    target_kind: e.target?.kind ?? null,
    target_id: e.target?.id ?? null,
    time: e.occurredAt.toISOString(),
  };
}

/**
 * A query bound as exact as the client wrote it: the document's own times have microseconds
 * (2017-10-11T16:49:52.758191Z), and a client may send one back. Stored times have milliseconds,
 * so a bound is kept as its millisecond plus whether a finer fraction was cut off.
 */
type TimeBound = { ms: number; cut: boolean };

function parseTimeBound(value: string): TimeBound | string {
  const fine = /^(.+\.\d{3})(\d{1,6})([Zz]|[+-]\d{2}:\d{2})$/.exec(value);
  const parsed = parseDateTime(fine ? `${fine[1]}${fine[3]}` : value);
  if (typeof parsed === 'string') return parsed;
  return { ms: parsed.getTime(), cut: fine ? /[1-9]/.test(fine[2] as string) : false };
}

function timeBoundParam(name: string, description: string, example: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      const parsed = parseTimeBound(v);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example, format: 'date-time' });
}

/**
 * `from` and `to` (both exclusive) as the service's half-open window [since, until) of stored
 * milliseconds. A `to` before `from` is refused; an empty window is not an error.
 */
function timeWindow(fromParam: string | undefined, toParam: string | undefined) {
  const from = fromParam === undefined ? undefined : (parseTimeBound(fromParam) as TimeBound);
  const to = toParam === undefined ? undefined : (parseTimeBound(toParam) as TimeBound);
  if (from && to && to.ms < from.ms) throw new ValidationError('to', 'must not be before from');
  // Newer than `from`: the next whole millisecond, whether or not a finer fraction was cut off.
  const since = from ? from.ms + 1 : undefined;
  // Older than `to`: a cut-off fraction means the millisecond it lies in is older still.
  const until = to ? to.ms + (to.cut ? 1 : 0) : undefined;
  return {
    since: since === undefined ? undefined : new Date(since),
    until: until === undefined ? undefined : new Date(since === undefined ? until : Math.max(until, since)),
  };
}

const listRoute = createRoute({
  method: 'get',
  path: '/api/data/audit',
  tags: ['Wasabi AiR'],
  summary: 'Listing audit records',
  description:
    'Records matching every given filter, one page at a time, with the total number of matches. `from` and `to` are ' +
    'exclusive. Ascending order of the chosen field, ties by time then id.',
  security,
  request: {
    query: z.object({
      user_id: textParam('user_id', 'The ID of the user by which to filter events.'),
      group_id: textParam('group_id', 'The ID of the group by which to filter events.'),
      target_kind: textParam('target_kind', 'The target_kind by which to filter events.'),
      target_id: textParam('target_id', 'The ID of the target object by which to filter events.'),
      action_key: textParam('action_key', 'The specific action key by which to filter events.'),
      from: timeBoundParam(
        'from',
        'RFC 3339: return events newer than this time (exclusive). Up to 9 fractional digits.',
        '2017-10-11T16:49:52.758191Z',
      ),
      to: timeBoundParam(
        'to',
        'RFC 3339: return events older than this time (exclusive). Up to 9 fractional digits. ' +
          'Must not be before `from`; equal to it, nothing matches.',
        '2017-10-14T00:00:00Z',
      ),
      order: enumParam('order', ORDERS, 'The field by which to order events.', 'ctime'),
      page: intParam('page', 'The page of results to display, from 0.', 0, WASABI.maxPage, 0),
      count: intParam(
        'count',
        `The number of records to return per page, 1 to ${WASABI.maxCount}.`,
        1,
        WASABI.maxCount,
        WASABI.defaultCount,
      ),
    }),
  },
  responses: {
    200: {
      description: 'One page of records.',
      content: {
        'application/json': {
          schema: z
            .object({
              audit_events: z.array(WasabiEvent),
              total: z
                .number()
                .int()
                .openapi({ description: 'The total number of records matching the query.' }),
              page: z.number().int().openapi({ description: 'The page number of this page of results.' }),
            })
            .openapi('WasabiAuditPage'),
        },
      },
    },
    ...errorResponses,
  },
});

const filtersRoute = createRoute({
  method: 'get',
  path: '/api/data/audit/filters',
  tags: ['Wasabi AiR'],
  summary: 'Listing available target kinds and action keys',
  security,
  responses: {
    200: {
      description: 'Every target kind seen, each with the action keys seen on it.',
      content: {
        'application/json': {
          schema: z
            .object({
              target_kinds: z.array(z.object({ name: z.string(), action_keys: z.array(z.string()) })),
            })
            .openapi('WasabiFilters'),
        },
      },
    },
    // No parameters, so nothing to refuse with a 400.
    ...errorResponsesWithoutBadRequest,
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/api/data/audit/{id}',
  tags: ['Wasabi AiR'],
  summary: 'Retrieving a specific audit event',
  security,
  request: { params: z.object({ id: eventIdParam('id') }) },
  responses: {
    200: { description: 'The event.', content: { 'application/json': { schema: WasabiEventDetail } } },
    ...notFoundResponse,
    ...errorResponsesWithoutBadRequest,
  },
});

export function registerWasabi(app: OpenAPIHono<AppEnv>, deps: { audit: AuditService }) {
  // Registered before /{id} so that "filters" is not taken for an event id.
  app.openapi(filtersRoute, async (c) => {
    const viewer = viewerOf(c);
    const available = await deps.audit.availableFilters(viewer);
    return c.json(
      { target_kinds: available.targetKinds.map((k) => ({ name: k.name, action_keys: k.actions })) },
      200,
    );
  });

  app.openapi(listRoute, async (c) => {
    const viewer = viewerOf(c);
    const q = c.req.valid('query');
    const page = Number(q.page ?? 0);
    const count = Number(q.count ?? WASABI.defaultCount);
    const one = (v: string | undefined) => (v === undefined ? undefined : [v]);
    const { events, total } = await deps.audit.pageByOffset(
      viewer,
      {
        ...timeWindow(q.from, q.to),
        actorIds: one(q.user_id),
        groupIds: one(q.group_id),
        targetKinds: one(q.target_kind),
        targetIds: one(q.target_id),
        actions: one(q.action_key),
      },
      { field: orderField[q.order ?? 'ctime'], direction: 'asc' },
      page * count,
      count,
      WASABI_FIELDS,
    );
    return c.json({ audit_events: events.map(toWasabi), total, page }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const viewer = viewerOf(c);
    const event = await deps.audit.getEvent(viewer, c.req.valid('param').id);
    if (!event) throw new NotFoundError('Audit event');
    return c.json(
      { ...toWasabi(event), ...(event.additionalId ? { additional_id: event.additionalId } : {}) },
      200,
    );
  });
}
