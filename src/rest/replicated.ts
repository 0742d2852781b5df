// Replicated audit API (Replicated documentation, "Audit API"; docs/compat/replicated.md):
//   POST /audit/v1/event {"name","title","description","ip_address","action"} → 201, empty body
// plus a batch route beside it for bulk ingest in the canonical event shape:
//   POST /audit/v1/events {"events": [...]} → one result per event
// Both take an optional Idempotency-Key header; a retry with the same key stores nothing new.
import { isIP } from 'node:net';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { LIMITS } from '../audit/model.ts';
import { type AuditService, MAX_BATCH } from '../audit/service.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import type { AppEnv } from '../http/http-env.ts';
import { ErrorBody, errorBody, errorResponses } from './errors.ts';
import { security, viewerOf } from './security.ts';

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

// Keyed by the header's documented spelling: the validator matches header names case-insensitively,
// and the OpenAPI generator refuses a key that differs from the parameter's name.
const idempotencyHeaderOf = (max: number, description: string) =>
  z.object({
    'Idempotency-Key': z
      .string()
      .max(max, { message: `must be at most ${max} characters` })
      .optional()
      .openapi({ param: { name: 'Idempotency-Key', in: 'header' }, description }),
  });

const idempotencyHeader = idempotencyHeaderOf(
  LIMITS.idempotencyKey,
  `Makes retries safe: a repeat with the same key and body stores nothing new. At most ${LIMITS.idempotencyKey} characters.`,
);

/** The batch key leaves room for the `:<index>` each event's own key gets, which has the event limit. */
const BATCH_KEY_MAX = LIMITS.idempotencyKey - `:${MAX_BATCH - 1}`.length;
const batchIdempotencyHeader = idempotencyHeaderOf(
  BATCH_KEY_MAX,
  'Makes retries safe: each event without its own key gets `<header>:<index>`, so a repeat of the batch ' +
    `stores nothing new. At most ${BATCH_KEY_MAX} characters, so that the longest such key fits the ` +
    `${LIMITS.idempotencyKey}-character limit of an event's key.`,
);

/** Where a canonical field came from in the Replicated body, for error messages. */
const vendorField: Record<string, string> = {
  'body.action': 'action',
  'body.name': 'name',
  'body.title': 'title',
  'body.description': 'description',
  'body.ipAddress': 'ip_address',
  'body.idempotencyKey': 'Idempotency-Key',
};

/** Answers of the body-reading middleware in front of both POST routes. */
const bodyResponses = {
  413: {
    description: 'The body is larger than `BODY_LIMIT_BYTES`.',
    content: { 'application/json': { schema: ErrorBody } },
  },
  415: {
    description:
      'A Content-Type other than JSON. A missing one, `text/plain` and `application/x-www-form-urlencoded` ' +
      '(what `curl -d` sends) are read as JSON.',
    content: { 'application/json': { schema: ErrorBody } },
  },
} as const;

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
    ...bodyResponses,
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
    headers: batchIdempotencyHeader,
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.object({
            events: z
              // Each item is checked on its own by the service, so one malformed item (even one
              // that is not an object) is rejected alone instead of sinking the batch.
              .array(
                z.unknown().openapi({
                  type: 'object',
                  description: 'One event in the canonical shape (`RecordEventInput`).',
                }),
                { message: 'must be an array of event objects' },
              )
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
    ...bodyResponses,
    ...errorResponses,
  },
});

/**
 * Clients that serialize a fixed struct (Go without `omitempty`, for one) send "" for a field they
 * have no value for; the optional fields read "" as absent rather than refusing the event.
 */
const absentIfEmpty = (v: string | null | undefined) => (v === '' ? null : v);

export function registerReplicated(app: OpenAPIHono<AppEnv>, deps: { audit: AuditService }) {
  app.openapi(eventRoute, async (c) => {
    const viewer = viewerOf(c);
    const body = c.req.valid('json');
    const clientAddress = c.get('clientAddress');
    try {
      await deps.audit.recordEvent(
        viewer,
        {
          action: body.action,
          name: absentIfEmpty(body.name),
          title: absentIfEmpty(body.title),
          description: absentIfEmpty(body.description),
          ipAddress: absentIfEmpty(body.ip_address),
          idempotencyKey: c.req.valid('header')['Idempotency-Key'],
        },
        'body',
        // Without ip_address, the client's address (not part of the idempotency fingerprint).
        { ipAddress: isIP(clientAddress) ? clientAddress : null },
      );
    } catch (error) {
      if (error instanceof ValidationError)
        throw new ValidationError(vendorField[error.field] ?? error.field, error.reason);
      if (error instanceof ConflictError) throw new ConflictError('Idempotency-Key', error.reason);
      throw error;
    }
    // Exactly as documented: 201, no body, text/plain.
    return c.body(null, 201, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '0' }) as never;
  });

  app.openapi(batchRoute, async (c) => {
    const viewer = viewerOf(c);
    const { events } = c.req.valid('json');
    const batchKey = c.req.valid('header')['Idempotency-Key'];
    const inputs = batchKey
      ? events.map((e, i) =>
          isObject(e) && e.idempotencyKey === undefined ? { ...e, idempotencyKey: `${batchKey}:${i}` } : e,
        )
      : events;
    const results = await deps.audit.recordEvents(viewer, inputs, 'events');
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
                error: errorBody(r.error, requestId),
              },
        ),
      },
      200,
    );
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
