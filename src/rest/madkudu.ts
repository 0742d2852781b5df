// MadKudu Audit Trail API (MadKudu's developer docs, "Audit Trail API",
// https://developers.madkudu.com/; restated in docs/compat/madkudu.md):
//   GET /v1/audit?from=YYYY-MM-DD&to=YYYY-MM-DD&event=…&user=…   → {"events": [...]}, newest first
//   GET /v1/audit/:eventId
// Only the retention window (13 months by default) is served. The document defines no paging,
// so the listing streams every match with bounded memory.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AuditEvent } from '../audit/model.ts';
import type { AuditService, EventFilter } from '../audit/service.ts';
import { addDays, addMonths, parseDateOnly } from '../audit/time.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { AppEnv } from '../http/http-env.ts';
import { errorResponses, errorResponsesWithoutBadRequest, notFoundResponse } from './errors.ts';
import { jsonStream } from './json-stream.ts';
import { dateParam, eventIdParam, textParam } from './params.ts';
import { security, viewerOf } from './security.ts';

const MadkuduEvent = z
  .object({
    id: z.string().openapi({ example: '46989615-30a5-49c7-997b-65ddcd24d61c' }),
    tenant: z.number().int().openapi({ description: 'Your account number.', example: 3327 }),
    name: z.string().openapi({ description: 'Name of the action performed.', example: 'logged-in' }),
    feature: z.object({
      name: z.string().openapi({ example: 'general' }),
      metas: z.record(z.string(), z.unknown()).openapi({ example: {} }),
    }),
    created_at: z
      .string()
      .openapi({ description: 'When the action was performed (UTC).', example: '2021-05-23T14:03:46.000Z' }),
    sent_at: z
      .string()
      .openapi({ description: 'When the event was sent.', example: '2021-05-20T14:03:46.716Z' }),
    received_at: z.string().openapi({
      description: 'When the event was received for ingestion.',
      example: '2021-05-22T14:03:46.000Z',
    }),
    user_email: z
      .string()
      .nullable()
      .openapi({ description: 'Email of the user performing the action.', example: 'yoann@madkudu.com' }),
  })
  .openapi('MadkuduEvent');

function toMadkudu(e: AuditEvent) {
  return {
    id: e.id,
    tenant: e.tenantId,
    name: e.action,
    feature: e.feature ?? { name: 'general', metas: {} },
    created_at: e.occurredAt.toISOString(),
    // The producer may not say when it sent the event; the receipt time is the best bound we have.
    sent_at: (e.sentAt ?? e.receivedAt).toISOString(),
    received_at: e.receivedAt.toISOString(),
    user_email: e.actor?.email ?? null,
  };
}

const listRoute = createRoute({
  method: 'get',
  path: '/v1/audit',
  tags: ['MadKudu'],
  summary: 'Retrieve all audit events from your account',
  description:
    'Events of the last 13 months (configurable), most recent first. Filters are optional and combine with AND. ' +
    'There is no paging: every match is returned, streamed.',
  security,
  request: {
    query: z.object({
      from: dateParam('from', 'Only events on or after this day (UTC, inclusive).', '2021-06-01'),
      to: dateParam(
        'to',
        'Only events on or before this day (UTC, the whole day is included).',
        '2021-06-30',
      ),
      event: textParam('event', 'Name of the action, e.g. `logged-in`.', 'logged-in'),
      user: textParam('user', 'Email address of the user.', 'name@domain.com'),
    }),
  },
  responses: {
    200: {
      description: 'The matching events, most recent first.',
      content: { 'application/json': { schema: z.object({ events: z.array(MadkuduEvent) }) } },
    },
    ...errorResponses,
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/v1/audit/{eventId}',
  tags: ['MadKudu'],
  summary: 'Retrieve one audit event',
  description:
    "The event as a bare object. 404 when it does not exist, is another tenant's, or is outside the retention window.",
  security,
  request: { params: z.object({ eventId: eventIdParam('eventId') }) },
  responses: {
    200: { description: 'The event.', content: { 'application/json': { schema: MadkuduEvent } } },
    ...notFoundResponse,
    ...errorResponsesWithoutBadRequest,
  },
});

export function registerMadkudu(
  app: OpenAPIHono<AppEnv>,
  deps: { audit: AuditService; retentionMonths: number },
) {
  const retentionStart = () => addMonths(new Date(), -deps.retentionMonths);

  app.openapi(listRoute, async (c) => {
    const viewer = viewerOf(c);
    const q = c.req.valid('query');
    const from = q.from ? (parseDateOnly(q.from) as Date) : undefined;
    const to = q.to ? (parseDateOnly(q.to) as Date) : undefined;
    if (from && to && to < from) throw new ValidationError('to', 'must not be before from');
    const oldest = retentionStart();
    const since = from && from > oldest ? from : oldest;
    // Days wholly before the retention window are a valid question with an empty answer.
    const until = to ? addDays(to, 1) : undefined;
    const filter: EventFilter = {
      since,
      until: until && until < since ? since : until,
      actions: q.event ? [q.event] : undefined,
      actorEmails: q.user ? [q.user] : undefined,
    };
    const batches = deps.audit.streamEvents(viewer, filter, {
      field: 'occurredAt',
      direction: 'desc',
    });
    const body = await jsonStream({ head: '{"events":[', batches, item: toMadkudu, tail: () => ']}' });
    return c.body(body, 200, { 'Content-Type': 'application/json; charset=utf-8' }) as never;
  });

  app.openapi(getRoute, async (c) => {
    const viewer = viewerOf(c);
    const event = await deps.audit.getEvent(viewer, c.req.valid('param').eventId);
    if (!event || event.occurredAt < retentionStart()) throw new NotFoundError('Audit event');
    return c.json(toMadkudu(event), 200);
  });
}
