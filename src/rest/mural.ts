// Mural audit log (Mural developer portal, "Audit Log examples"; docs/compat/mural.md):
//   GET /enterprise/v1/audit-log?maxResults=…&filter[date][since]=…&filter[date][until]=…&filter[action]=…
//   GET /enterprise/v1/audit-log?maxResults=…&nextToken=…
// Reverse chronological, up to 50,000 entries per response (streamed), a window of at most 30
// days (the past 7 days when none is given), and a signed nextToken that carries the query and
// the position, so every other parameter is ignored when one is sent.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AuditEvent } from '../audit/model.ts';
import type { AuditService } from '../audit/service.ts';
import { addDays, DAY_MS, isDateOnly, parseDateOnly, parseDateTime } from '../audit/time.ts';
import { ValidationError } from '../errors.ts';
import type { AppEnv } from '../http/http-env.ts';
import { errorResponses } from './errors.ts';
import { jsonStream } from './json-stream.ts';
import { dateOrDateTimeParam, intParam, textParam } from './params.ts';
import { security, viewerOf } from './security.ts';

export const MURAL = {
  maxResults: 50_000,
  defaultWindowDays: 7,
  maxWindowDays: 30,
  /** Rows per database read while streaming: few enough that a dump's memory stays flat. */
  batchSize: 1000,
} as const;

/** What a nextToken carries: the resolved query and where the previous page stopped. */
/** The query a Mural nextToken carries (the position beside it is the cursor module's). */
type MuralQuery = { s: number; u: number; a: string | null };

const Party = z.object({
  company: z.string().nullable(),
  email: z.string().nullable(),
  id: z.string().nullable(),
  name: z.string().nullable(),
  type: z.string().nullable(),
});

const MuralEntry = z
  .object({
    action: z.string().openapi({ example: 'UPDATE_COMPANY_SSO' }),
    actor: Party.openapi({ description: 'Who performed the action.' }),
    date: z.string().openapi({ description: 'When it happened (UTC).', example: '2022-02-01T22:19:42.841Z' }),
    id: z.string(),
    ip: z.string().nullable().openapi({ example: '126.33.94.213' }),
    snapshotDate: z.string().openapi({
      description: 'End of the UTC day the entry belongs to.',
      example: '2022-02-01T23:59:59.999Z',
    }),
    affected: Party.openapi({ description: 'What the action was performed on.' }),
  })
  .openapi('MuralAuditLogEntry');

function endOfUtcDay(d: Date): Date {
  return new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS + DAY_MS - 1);
}

function toMural(e: AuditEvent) {
  const a = e.actor;
  const t = e.target;
  return {
    action: e.action,
    actor: {
      company: a?.company ?? null,
      email: a?.email ?? null,
      id: a?.id ?? null,
      name: a?.name ?? null,
      type: a?.type ?? null,
    },
    date: e.occurredAt.toISOString(),
    id: e.id,
    ip: e.ipAddress,
    snapshotDate: endOfUtcDay(e.occurredAt).toISOString(),
    affected: {
      company: t?.company ?? null,
      email: t?.email ?? null,
      id: t?.id ?? null,
      name: t?.name ?? null,
      type: t?.kind ?? null,
    },
  };
}

/**
 * The query and window parameters. They are checked only when no nextToken is given: with one,
 * the document says every field but maxResults is ignored, so not even a malformed value may
 * fail the request.
 */
function ignoredWithToken<const N extends string>(
  strict: (name: string, description: string, example: string) => z.ZodType,
  name: N,
  description: string,
  example: string,
  limits: { minLength?: number; maxLength?: number } = {},
) {
  return {
    name,
    strict: strict(name, description, example),
    schema: z
      .string()
      .optional()
      .openapi({
        param: { name, in: 'query' },
        description: `${description} Ignored when \`nextToken\` is given.`,
        example,
        ...limits,
      }),
  };
}

const sinceParam = ignoredWithToken(
  dateOrDateTimeParam,
  'filter[date][since]',
  'Only entries at or after this instant (UTC, inclusive). A date means the start of that day.',
  '2022-02-01',
);
const untilParam = ignoredWithToken(
  dateOrDateTimeParam,
  'filter[date][until]',
  'Only entries at or before this instant (UTC, inclusive). A date means the end of that day.',
  '2022-02-02',
);
const actionParam = ignoredWithToken(
  textParam,
  'filter[action]',
  'Only entries of this one action (exact match).',
  'CREATE_MURAL',
  { minLength: 1, maxLength: 320 },
);

const Query = z
  .object({
    maxResults: intParam(
      'maxResults',
      'How many entries to return, 1 to 50000 (default 50000).',
      1,
      MURAL.maxResults,
      MURAL.maxResults,
    ),
    nextToken: z
      .string()
      .max(4096)
      .optional()
      .openapi({
        param: { name: 'nextToken', in: 'query' },
        description: 'Token from the end of the previous response.',
      }),
    [sinceParam.name]: sinceParam.schema,
    [untilParam.name]: untilParam.schema,
    [actionParam.name]: actionParam.schema,
  })
  .superRefine((q, ctx) => {
    if (q.nextToken !== undefined) return;
    for (const p of [sinceParam, untilParam, actionParam]) {
      const result = p.strict.safeParse(q[p.name]);
      if (!result.success) {
        ctx.addIssue({
          code: 'custom',
          path: [p.name],
          message: result.error.issues[0]?.message ?? 'is invalid',
        });
      }
    }
  });

const route = createRoute({
  method: 'get',
  path: '/enterprise/v1/audit-log',
  tags: ['Mural'],
  summary: 'Audit log entries, newest first',
  description:
    'Up to `maxResults` entries in reverse chronological order (ties by id, descending) within a window of at most ' +
    '30 days: the past 7 days when no window is given; 30 days from `filter[date][since]` (at most up to now) when ' +
    'only it is given; the 30 days ending with `filter[date][until]` when only it is given. Both bounds are ' +
    'inclusive; a date-only `filter[date][until]` includes that whole day. When more entries exist, the response ' +
    'ends with a `nextToken`; pass it back to continue. With `nextToken`, every parameter except `maxResults` is ' +
    'ignored.',
  security,
  request: { query: Query },
  responses: {
    200: {
      description: 'A page of entries; `nextToken` is present only when more entries follow.',
      content: {
        'application/json': {
          schema: z
            .object({ data: z.array(MuralEntry), nextToken: z.string().optional() })
            .openapi('MuralAuditLogPage'),
        },
      },
    },
    ...errorResponses,
  },
});

/** Resolves the since/until parameters into a half-open window [since, until), checking its length. */
function muralWindow(
  sinceParam: string | undefined,
  untilParam: string | undefined,
  now: Date,
): { since: Date; until: Date } {
  const since =
    sinceParam === undefined
      ? undefined
      : ((isDateOnly(sinceParam) ? parseDateOnly(sinceParam) : parseDateTime(sinceParam)) as Date);
  // A date means the whole day; a date-time is inclusive to the millisecond.
  const until =
    untilParam === undefined
      ? undefined
      : isDateOnly(untilParam)
        ? addDays(parseDateOnly(untilParam) as Date, 1)
        : new Date((parseDateTime(untilParam) as Date).getTime() + 1);
  const nowExclusive = new Date(now.getTime() + 1);
  if (!since && !until) return { since: addDays(now, -MURAL.defaultWindowDays), until: nowExclusive };
  if (since && !until) {
    const end = addDays(since, MURAL.maxWindowDays);
    return { since, until: end < nowExclusive ? end : nowExclusive > since ? nowExclusive : since };
  }
  if (!since && until) return { since: addDays(until, -MURAL.maxWindowDays), until };
  const s = since as Date;
  const u = until as Date;
  // Both ends are inclusive: the window runs from since to its last millisecond, u - 1. So
  // until=2022-02-01 with since=2022-02-02 is before since, and since=2022-01-01T00:00:00Z with
  // until=2022-01-31T00:00:00Z (or until=2022-01-30 as a date) is exactly 30 days.
  const last = u.getTime() - 1;
  if (last < s.getTime()) {
    throw new ValidationError('filter[date][until]', 'must not be before filter[date][since]');
  }
  if (last - s.getTime() > MURAL.maxWindowDays * DAY_MS) {
    throw new ValidationError(
      'filter[date][until]',
      `the window from filter[date][since] to filter[date][until] spans more than ${MURAL.maxWindowDays} days; request at most 30 days at a time`,
    );
  }
  return { since: s, until: u };
}

export function registerMural(app: OpenAPIHono<AppEnv>, deps: { audit: AuditService }) {
  app.openapi(route, async (c) => {
    const viewer = viewerOf(c);
    const q = c.req.valid('query');
    const maxResults = q.maxResults === undefined ? MURAL.maxResults : Number(q.maxResults);
    let query: MuralQuery;
    let after: { key: null; at: Date; id: string } | undefined;
    if (q.nextToken !== undefined) {
      const continued = deps.audit.readContinuation(viewer, q.nextToken);
      if (!continued || !isMuralQuery(continued.query)) {
        throw new ValidationError(
          'nextToken',
          "is not a valid token for this API key (it may be altered, truncated or another account's)",
        );
      }
      query = { s: continued.query.s, u: continued.query.u, a: continued.query.a };
      after = continued.after;
    } else {
      const window = muralWindow(q['filter[date][since]'], q['filter[date][until]'], new Date());
      query = { s: window.since.getTime(), u: window.until.getTime(), a: q['filter[action]'] ?? null };
    }
    const events = deps.audit.streamEvents(
      viewer,
      { since: new Date(query.s), until: new Date(query.u), actions: query.a ? [query.a] : undefined },
      { field: 'occurredAt', direction: 'desc' },
      // One more than asked: whether it exists decides if there is a next page.
      { after, limit: maxResults + 1, batchSize: MURAL.batchSize },
    );
    let written = 0;
    let last: AuditEvent | undefined;
    let more = false;
    async function* page(): AsyncGenerator<AuditEvent[]> {
      for await (const batch of events) {
        const room = maxResults - written;
        const take = batch.length > room ? batch.slice(0, room) : batch;
        if (batch.length > room) more = true;
        written += take.length;
        last = take.at(-1) ?? last;
        if (take.length > 0) yield take;
        if (more) return;
      }
    }
    const tail = () => {
      if (!more || !last) return ']}';
      return `],"nextToken":${JSON.stringify(deps.audit.continuationToken(viewer, query, last))}}`;
    };
    const body = await jsonStream({ head: '{"data":[', batches: page(), item: toMural, tail });
    return c.body(body, 200, { 'Content-Type': 'application/json; charset=utf-8' }) as never;
  });
}

/** What a Mural listing repeats on its next page: the window (ms) and the action filter. */
function isMuralQuery(q: Record<string, unknown>): q is MuralQuery {
  return (
    typeof q.s === 'number' &&
    Number.isFinite(q.s) &&
    typeof q.u === 'number' &&
    Number.isFinite(q.u) &&
    (q.a === null || typeof q.a === 'string')
  );
}
