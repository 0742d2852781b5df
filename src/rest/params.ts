// Query and body parameter schemas shared by the REST dialects. They validate with the same
// rules as the canonical model and document themselves in /openapi.json.
import { z } from '@hono/zod-openapi';
import { textProblem } from '../audit/model.ts';
import { parseDateOnly, parseDateTime } from '../audit/time.ts';

/** Free text from a query string: no NUL or control characters, bounded length. */
export function textParam(name: string, description: string, example?: string) {
  return z
    .string()
    .min(1, { message: 'must not be empty' })
    .max(320, { message: 'must be at most 320 characters' })
    .superRefine((v, ctx) => {
      const problem = textProblem(v, true);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, ...(example ? { example } : {}) });
}

export function dateParam(name: string, description: string, example: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      const parsed = parseDateOnly(v);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example, format: 'date' });
}

/** A date (YYYY-MM-DD) or an RFC 3339 date-time, as Mural's filter[date] parameters take. */
export function dateOrDateTimeParam(name: string, description: string, example: string) {
  return z
    .string()
    .superRefine((v, ctx) => {
      const parsed = /^\d{4}-\d{2}-\d{2}$/.test(v) ? parseDateOnly(v) : parseDateTime(v);
      if (typeof parsed === 'string') {
        ctx.addIssue({ code: 'custom', message: `${parsed} (use YYYY-MM-DD or yyyy-mm-ddTHH:mm:ssZ)` });
      }
    })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, example });
}

/** A whole number in [min, max] written in decimal digits; the default applies when absent. */
export function intParam(name: string, description: string, min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^-?\d{1,12}$/, { message: `must be a whole number between ${min} and ${max}` })
    .refine((v) => Number(v) >= min && Number(v) <= max, {
      message: `must be a whole number between ${min} and ${max}`,
    })
    .optional()
    .openapi({
      param: { name, in: 'query' },
      description,
      type: 'integer',
      minimum: min,
      maximum: max,
      default: fallback,
    } as never);
}

export function enumParam<const T extends readonly [string, ...string[]]>(
  name: string,
  values: T,
  description: string,
  fallback: T[number],
) {
  return z
    .enum(values, { message: `must be one of ${values.join(', ')}` })
    .optional()
    .openapi({ param: { name, in: 'query' }, description, default: fallback });
}

/** Any string: one that is not an id this API hands out is simply not found, whatever its length. */
export function eventIdParam(name: string) {
  return z
    .string()
    .openapi({ param: { name, in: 'path' }, description: 'The event id, as returned by any of the APIs.' });
}
