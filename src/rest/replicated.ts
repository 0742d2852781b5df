// Replicated audit API (shared/spec/replicated-audit-api.txt):
//   POST /audit/v1/event {"name","title","description","ip_address","action"} → 201, empty body
// plus a batch route beside it for bulk ingest in the canonical event shape:
//   POST /audit/v1/events {"events": [...]} → one result per event
// Both take an optional Idempotency-Key header; a retry with the same key stores nothing new.
import { isIP } from 'node:net';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { ConflictError, ValidationError } from '../audit/errors.ts';
import { type AuditService, MAX_BATCH } from '../audit/service.ts';
import type { AppEnv } from '../http-env.ts';
import { ErrorBody, errorResponses } from './errors.ts';
import { authorize, security } from './security.ts';

const optionalString = (description: string, example?: string) =>
  z
    .string({ message: 'must be a string' })
    .nullish()
    .openapi({ description, ...(example ? { example } : {}) });

const ReplicatedEvent = z
  .object({
    name: optionalString('Name of the event.', 'user.login'),
    title: optionalString('Title of the event.', 'User Login Success'),
    description: optionalString(
      'Human readable description of the event.',
      '[email protected] logged in successfully',
    ),
    ip_address: optionalString(
      'IP Address of the user who took the action. When absent, the client address is recorded (X-Forwarded-For is only honoured from trusted proxies).',
      '192.30.252.12',
    ),
    action: z
      .string({ message: 'is required and must be a string' })
      .openapi({ description: 'Machine readable name of the event.', example: 'user.login.success' }),
  })
  .openapi('ReplicatedEvent');

const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .max(200)
    .optional()
    .openapi({
      param: { name: 'Idempotency-Key', in: 'header' },
      description: 'Makes retries safe: a repeat with the same key and body stores nothing new.',
    }),
});

/** Where a canonical field came from in the Replicated body, for error messages. */
const vendorField: Record<string, string> = {
  'body.action': 'action',
  'body.name': 'name',
  'body.title': 'title',
  'body.description': 'description',
  'body.ipAddress': 'ip_address',
  'body.idempotencyKey': 'Idempotency-Key',
};

const eventRoute = createRoute({
  method: 'post',
  path: '/audit/v1/event',
  tags: ['Replicated'],
  summary: 'Records audit event information',
  description: 'Stores one event and answers `201 Created` with an empty body once it is committed.',
  security,
  request: {
    headers: idempotencyHeader,
    body: { required: true, content: { 'application/json': { schema: ReplicatedEvent } } },
  },
  responses: {
    201: {
      description: 'Stored. Empty body (`Content-Length: 0`, `Content-Type: text/plain; charset=utf-8`).',
    },
    409: {
      description: 'The Idempotency-Key was used for a different event.',
      content: { 'application/json': { schema: ErrorBody } },
    },
    ...errorResponses,
  },
});

const BatchResult = z
  .object({
    index: z.number().int().openapi({ description: 'Position in `events`, from 0.' }),
    status: z.enum(['stored', 'replayed', 'rejected']),
    id: z.string().optional().openapi({ description: 'Event id, when stored or replayed.' }),
    sequence: z.number().int().optional().openapi({ description: "Position in the tenant's hash chain." }),
    error: ErrorBody.optional(),
  })
  .openapi('BatchResult');

const batchRoute = createRoute({
  method: 'post',
  path: '/audit/v1/events',
  tags: ['Batch ingest'],
  summary: 'Records up to 1000 events at once',
  description:
    'Each event has the canonical shape of the GraphQL `RecordEventInput` (camelCase: action, name, title, description, ' +
    'actor, groupId, target, additionalId, feature, ipAddress, occurredAt, sentAt, metadata, idempotencyKey). One ' +
    'result per event, in order; an invalid event is rejected on its own. With an Idempotency-Key header, an event ' +
    'without its own key gets `<header>:<index>`, so the whole batch can be retried safely.',
  security,
  request: {
    headers: idempotencyHeader,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({
            events: z
              .array(z.record(z.string(), z.unknown()), { message: 'must be an array of event objects' })
              .max(MAX_BATCH, { message: `must hold at most ${MAX_BATCH} events` }),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: 'One result per event.',
      content: {
        'application/json': { schema: z.object({ results: z.array(BatchResult) }).openapi('BatchResults') },
      },
    },
    ...errorResponses,
  },
});

export function registerReplicated(app: OpenAPIHono<AppEnv>, deps: { audit: AuditService }) {
  app.openapi(eventRoute, async (c) => {
    const viewer = await authorize(c, 'write');
    const body = c.req.valid('json');
    const clientAddress = c.get('clientAddress');
    try {
      await deps.audit.recordEvent(
        viewer.tenantId,
        {
          action: body.action,
          name: body.name,
          title: body.title,
          description: body.description,
          ipAddress: body.ip_address ?? (isIP(clientAddress) ? clientAddress : null),
          idempotencyKey: c.req.valid('header')['idempotency-key'],
        },
        'body',
      );
    } catch (error) {
      if (error instanceof ValidationError)
        throw new ValidationError(vendorField[error.field] ?? error.field, error.reason);
      if (error instanceof ConflictError)
        throw new ConflictError('Idempotency-Key', error.message.replace(/^[^:]*: /, ''));
      throw error;
    }
    // Exactly as documented: 201, no body, text/plain.
    return c.body(null, 201, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '0' }) as never;
  });

  app.openapi(batchRoute, async (c) => {
    const viewer = await authorize(c, 'write');
    const { events } = c.req.valid('json');
    const batchKey = c.req.valid('header')['idempotency-key'];
    const inputs = batchKey
      ? events.map((e, i) =>
          e.idempotencyKey === undefined ? { ...e, idempotencyKey: `${batchKey}:${i}` } : e,
        )
      : events;
    const results = await deps.audit.recordEvents(viewer.tenantId, inputs, 'events');
    const requestId = c.get('requestId');
    return c.json(
      {
        results: results.map((r, index) =>
          r.ok
            ? {
                index,
                status: r.replayed ? ('replayed' as const) : ('stored' as const),
                id: r.event.id,
                sequence: r.event.sequence,
              }
            : {
                index,
                status: 'rejected' as const,
                error: {
                  error: r.error instanceof ConflictError ? 'idempotency_conflict' : 'invalid_parameter',
                  message: r.error.message,
                  parameter: r.error.field,
                  requestId,
                },
              },
        ),
      },
      200,
    );
  });
}
