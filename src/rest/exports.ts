// Filtered exports over REST (docs/analysts.md#exports):
//   GET /v1/exports/events.csv     a spreadsheet: RFC 4180, header row, formula cells neutralised
//   GET /v1/exports/events.ndjson  evidence: each event as hashed, closed by signed statements
//   GET /v1/exports/reads.csv, reads.ndjson  the read log (who read the trail), `read_log` keys only
// Both take the filters of GraphQL's AuditEventFilter as query parameters (a list filter repeats
// its parameter: `actions=a&actions=b`), and `after=<cursor>` to resume a broken download.
import { isIP } from 'node:net';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { EXPORT_FORMATS, type ExportFormat } from '../audit/export-format.ts';
import type { ExportService } from '../audit/export-service.ts';
import {
  type EventFilter,
  LIST_FILTER_NAMES,
  LIST_FILTERS,
  MAX_FILTER_VALUES,
  SEARCH,
} from '../audit/filters.ts';
import { MAX_READ_FILTER_VALUES, READ_KINDS, READ_SURFACES, type ReadLog } from '../audit/read-log.ts';
import { parseDateTime } from '../audit/time.ts';
import type { AppEnv } from '../http/http-env.ts';
import { errorResponses } from './errors.ts';
import { security, viewerOf } from './security.ts';

const valueProblem = {
  text: () => null,
  email: (v: string) => (/^[^@\s]+@[^@\s]+$/.test(v) ? null : 'must be email addresses'),
  ip: (v: string) => (isIP(v) !== 0 ? null : 'must be IP addresses'),
} as const;

function listParam(name: (typeof LIST_FILTER_NAMES)[number]) {
  const { kind, description } = LIST_FILTERS[name];
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .superRefine((values, ctx) => {
      if (values.length > MAX_FILTER_VALUES)
        ctx.addIssue({ code: 'custom', message: `must be given at most ${MAX_FILTER_VALUES} times` });
      const problem = values.map((v) => valueProblem[kind](v)).find((p) => p !== null);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .openapi({
      param: { name, in: 'query', style: 'form', explode: true },
      description: `${description} Repeat the parameter for several values.`,
      type: 'array',
      items: { type: 'string' },
    } as never);
}

function timeParam(name: string, description: string) {
  return z
    .string()
    .transform((v, ctx) => {
      const parsed = parseDateTime(v);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: `${parsed} (use an RFC 3339 date-time)` });
        return z.NEVER;
      }
      return parsed;
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example: '2026-01-01T00:00:00Z' } as never);
}

/** The query parameters: every filter of `LIST_FILTERS`, so a new filter appears here by itself. */
const ExportQuery = z.object({
  since: timeParam('since', 'Only events that occurred at or after this time (inclusive).'),
  until: timeParam('until', 'Only events that occurred before this time (exclusive).'),
  ...(Object.fromEntries(LIST_FILTER_NAMES.map((name) => [name, listParam(name)])) as Record<
    (typeof LIST_FILTER_NAMES)[number],
    ReturnType<typeof listParam>
  >),
  search: z
    .string()
    .optional()
    .openapi({
      param: { name: 'search', in: 'query' },
      description: `${SEARCH.description} Errors name \`filter.search\`; a search that runs too long is refused before the export begins (a later batch that does ends the download early: resume it with the last cursor).`,
      example: 'invoice 4711',
    }),
  after: z
    .string()
    .max(4096, { message: 'is not a cursor of an export of this tenant' })
    .optional()
    .openapi({
      param: { name: 'after', in: 'query' },
      description:
        'Resume after the event this cursor names: the `cursor` of an NDJSON line or of a CSV row from an export with the same filter. The resumed export stops where the first one did.',
    }),
  bom: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .optional()
    .openapi({
      param: { name: 'bom', in: 'query' },
      description: 'CSV only: start with a UTF-8 byte order mark, so Excel reads the file as UTF-8.',
      default: 'false',
    }),
});

const DESCRIPTIONS: Record<ExportFormat, { summary: string; description: string; type: string }> = {
  csv: {
    summary: 'Export matching events as CSV',
    type: 'text/csv; charset=utf-8; header=present',
    description:
      'Every matching event in sequence order, streamed (no size limit). RFC 4180: CRLF line ends, a header row, cells with a quote, comma or line break quoted. ' +
      "A text cell beginning with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` (OWASP CSV injection), which alters that cell's text: use the NDJSON export as evidence. " +
      'Columns are listed in docs/analysts.md; `cursor`, the last column, resumes the export after its row.',
  },
  ndjson: {
    summary: 'Export matching events as NDJSON, with proof that each is in the signed chain',
    type: 'application/x-ndjson',
    description:
      'A header line, one line per matching event (its sequence number, hash, `cursor` and the event exactly as hashed), then the signed checkpoint the export stops at and a signed export statement ' +
      'over the exported events. `audit-gateway verify --file` checks it offline; docs/tamper-evidence.md says what it proves.',
  },
};

function exportRoute(format: ExportFormat) {
  const d = DESCRIPTIONS[format];
  return createRoute({
    method: 'get',
    path: `/v1/exports/events.${format}`,
    tags: ['Exports'],
    summary: d.summary,
    description: d.description,
    security,
    request: { query: ExportQuery },
    responses: {
      200: {
        description: 'The export, streamed. `Export-Through-Sequence` names the chain position it stops at.',
        headers: z.object({ 'Export-Through-Sequence': z.string() }),
        content: { [d.type.split(';')[0] as string]: { schema: z.string() } },
      },
      ...errorResponses,
    },
  });
}

/** A repeatable parameter of the read-log export; `values` (upper case, as in GraphQL) when enumerated. */
function readListParam(name: string, description: string, values?: readonly string[]) {
  const upper = values?.map((v) => v.toUpperCase());
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .superRefine((list, ctx) => {
      if (list.length > MAX_READ_FILTER_VALUES)
        ctx.addIssue({ code: 'custom', message: `must be given at most ${MAX_READ_FILTER_VALUES} times` });
      const unknown = upper && list.find((v) => !upper.includes(v));
      if (unknown) ctx.addIssue({ code: 'custom', message: `must be one of ${upper.join(', ')}` });
    })
    .transform((list) => (upper ? list.map((v) => v.toLowerCase()) : list))
    .optional()
    .openapi({
      param: { name, in: 'query', style: 'form', explode: true },
      description: `${description} Repeat the parameter for several values.`,
      type: 'array',
      items: upper ? { type: 'string', enum: upper } : { type: 'string' },
    } as never);
}

const ReadExportQuery = z.object({
  since: timeParam('since', 'Only reads at or after this instant (inclusive).'),
  until: timeParam('until', 'Only reads before this instant (exclusive).'),
  keyIds: readListParam('keyIds', 'Only reads by these API keys (or tokens they minted).'),
  surfaces: readListParam('surfaces', 'Only reads through these APIs.', READ_SURFACES),
  kinds: readListParam('kinds', 'Only these kinds of read.', READ_KINDS),
  after: z
    .string()
    .max(4096, { message: 'is not a cursor of the read log' })
    .optional()
    .openapi({
      param: { name: 'after', in: 'query' },
      description:
        'Resume after the record this cursor names: the `cursor` of an NDJSON line or CSV row (or of an `auditReads` edge).',
    }),
  bom: ExportQuery.shape.bom,
});

const READ_DESCRIPTIONS: Record<ExportFormat, { summary: string; type: string }> = {
  csv: { summary: 'Export the read log as CSV', type: 'text/csv; charset=utf-8; header=present' },
  ndjson: { summary: 'Export the read log as NDJSON', type: 'application/x-ndjson' },
};

function readExportRoute(format: ExportFormat) {
  const d = READ_DESCRIPTIONS[format];
  return createRoute({
    method: 'get',
    path: `/v1/exports/reads.${format}`,
    tags: ['Exports'],
    summary: d.summary,
    description:
      'Who read your events: every record of the read log that matches, newest first (as `auditReads` in GraphQL), streamed. Needs an API key with the `read_log` scope. ' +
      'Fields as GraphQL names them (`at`, `id`, `keyId`, `viewerTokenId`, `restriction`, `surface`, `operation`, `kind`, `filter`, `clientAddress`, `requestId`, `events`) and `cursor` to resume after the record; ' +
      'in CSV `restriction` and `filter` are JSON text and cells are neutralised as in the event export. Records reach the log up to `READ_LOG_FLUSH_MS` after the read.',
    security,
    request: { query: ReadExportQuery },
    responses: {
      200: {
        description: 'The read log, streamed.',
        content: { [d.type.split(';')[0] as string]: { schema: z.string() } },
      },
      ...errorResponses,
    },
  });
}

export function registerExports(
  app: OpenAPIHono<AppEnv>,
  deps: { exports: ExportService; readLog: ReadLog },
) {
  for (const format of EXPORT_FORMATS) {
    app.openapi(readExportRoute(format), async (c) => {
      const { after, bom, ...filter } = c.req.valid('query');
      const chunks = deps.readLog.export(viewerOf(c), filter, { format, after, bom: bom === 'true' });
      return c.body(readable(chunks), 200, {
        'Content-Type': READ_DESCRIPTIONS[format].type,
        'Content-Disposition': `attachment; filename="reads.${format}"`,
        'Cache-Control': 'no-store',
      }) as never;
    });
  }
  for (const format of EXPORT_FORMATS) {
    app.openapi(exportRoute(format), async (c) => {
      const { since, until, search, after, bom, ...lists } = c.req.valid('query');
      const filter: EventFilter = { since, until, search, ...lists };
      const { throughSeq, chunks } = await deps.exports.exportEvents(viewerOf(c), {
        filter,
        format,
        after,
        bom: bom === 'true',
      });
      return c.body(readable(chunks), 200, {
        'Content-Type': DESCRIPTIONS[format].type,
        'Content-Disposition': `attachment; filename="events.${format}"`,
        'Cache-Control': 'no-store',
        'Export-Through-Sequence': String(throughSeq),
      }) as never;
    });
  }
}

/** Pull-driven: the next batch is read only when the client has taken the last one. */
function readable(chunks: AsyncGenerator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const next = await chunks.next();
            if (next.done) return controller.close();
            if (next.value.length > 0) return controller.enqueue(encoder.encode(next.value));
          }
        } catch (error) {
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
