// The canonical audit event every surface maps onto, and the rules an incoming event must meet.
import { EmailAddressResolver, IPResolver } from 'graphql-scalars';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { parseDateTime } from './time.ts';

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

export type Actor = {
  id: string | null;
  email: string | null;
  name: string | null;
  type: string | null;
  company: string | null;
};

export type Target = {
  kind: string | null;
  id: string | null;
  name: string | null;
  email: string | null;
  company: string | null;
};

export type Feature = { name: string; metas: JsonObject };

/**
 * A stored event: what the caller sent (EventInput, itself what parseEventInput returns) with the
 * fields the server sets. Both follow the input schema, so a new field is declared there once.
 */
export type AuditEvent = Omit<EventInput, 'idempotencyKey' | 'occurredAt'> & {
  id: string;
  tenantId: number;
  sequence: number;
  /** When the caller said it happened, or when it was received. */
  occurredAt: Date;
  receivedAt: Date;
  /** SHA-256 of the canonical serialization, hex. */
  hash: string;
};

/** A field of an AuditEvent, as reads that select only some fields (projection) name them. */
export type EventField = keyof AuditEvent;

/** Every field of an AuditEvent, in the order projections list their columns. */
export const EVENT_FIELDS = [
  'id',
  'tenantId',
  'sequence',
  'action',
  'name',
  'title',
  'description',
  'actor',
  'groupId',
  'target',
  'additionalId',
  'feature',
  'ipAddress',
  'occurredAt',
  'sentAt',
  'receivedAt',
  'metadata',
  'hash',
] as const satisfies readonly EventField[];

// Fails to compile when AuditEvent gains a field that EVENT_FIELDS does not list.
const everyFieldListed: [Exclude<EventField, (typeof EVENT_FIELDS)[number]>] extends [never] ? true : never =
  true;
void everyFieldListed;

/** An event as accepted for storage: validated, normalized, not yet placed in the chain. */
export type EventInput = ReturnType<typeof parseEventInput>;

export const LIMITS = {
  identifier: 256,
  action: 200,
  email: 320,
  title: 512,
  description: 8192,
  idempotencyKey: 200,
  metadataBytes: 16_384,
  featureMetasBytes: 8_192,
  jsonDepth: 8,
  /** How far in the future an occurrence time may lie (clock skew between producers). */
  futureSkewMs: 24 * 60 * 60 * 1000,
} as const;

// Controls other than tab, newline and carriage return, including NUL, are refused everywhere;
// identifiers refuse those three as well.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlInText = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlInIdentifier = /[\u0000-\u001F\u007F]/;
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Problems with a string as text we can store and hash faithfully, or null. */
export function textProblem(value: string, identifier: boolean): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (loneSurrogate.test(value)) return 'must be valid Unicode (it contains a lone surrogate)';
  if ((identifier ? controlInIdentifier : controlInText).test(value)) {
    return 'must not contain control characters';
  }
  return null;
}

const text = (max: number, identifier: boolean) =>
  z
    .string({ message: 'must be a string' })
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max} characters` })
    .superRefine((v, ctx) => {
      const problem = textProblem(v, identifier);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const optionalText = (max: number, identifier = true) => text(max, identifier).nullish();

/** Email checked by the same rule as the GraphQL EmailAddress scalar, so the two never disagree. */
const email = text(LIMITS.email, true)
  .refine((v) => accepts(() => EmailAddressResolver.parseValue(v)), { message: 'must be an email address' })
  .nullish();

const ipAddress = text(64, true)
  .refine((v) => accepts(() => IPResolver.parseValue(v)), { message: 'must be an IPv4 or IPv6 address' })
  .nullish();

function accepts(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

const jsonObject = (maxBytes: number) =>
  z.custom<JsonObject>().superRefine((v, ctx) => {
    const problem = jsonObjectProblem(v, maxBytes);
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
  });

const dateTime = z
  .union([z.date(), z.string()], { message: 'must be an RFC 3339 date-time string' })
  .transform((v, ctx) => {
    if (v instanceof Date) return v;
    const parsed = parseDateTime(v);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  })
  .superRefine((d, ctx) => {
    if (Number.isNaN(d.getTime())) ctx.addIssue({ code: 'custom', message: 'is not a valid date-time' });
    else if (d.getTime() < 0)
      ctx.addIssue({ code: 'custom', message: 'must not be before 1970-01-01T00:00:00Z' });
    else if (d.getTime() > Date.now() + LIMITS.futureSkewMs) {
      ctx.addIssue({ code: 'custom', message: 'must not be more than 24 hours in the future' });
    }
  });

const EventInputSchema = z.strictObject(
  {
    action: text(LIMITS.action, true),
    name: optionalText(LIMITS.title),
    title: optionalText(LIMITS.title, false),
    description: optionalText(LIMITS.description, false),
    actor: z
      .strictObject(
        {
          id: optionalText(LIMITS.identifier),
          email,
          name: optionalText(LIMITS.identifier),
          type: optionalText(LIMITS.identifier),
          company: optionalText(LIMITS.identifier),
        },
        { message: 'must be an object' },
      )
      .nullish(),
    groupId: optionalText(LIMITS.identifier),
    target: z
      .strictObject(
        {
          kind: optionalText(LIMITS.identifier),
          id: optionalText(LIMITS.identifier),
          name: optionalText(LIMITS.identifier),
          email,
          company: optionalText(LIMITS.identifier),
        },
        { message: 'must be an object' },
      )
      .nullish(),
    additionalId: optionalText(LIMITS.identifier),
    feature: z
      .strictObject(
        {
          name: text(LIMITS.identifier, true),
          metas: jsonObject(LIMITS.featureMetasBytes).nullish(),
        },
        { message: 'must be an object' },
      )
      .nullish(),
    ipAddress,
    occurredAt: dateTime.nullish(),
    sentAt: dateTime.nullish(),
    metadata: jsonObject(LIMITS.metadataBytes).nullish(),
    idempotencyKey: optionalText(LIMITS.idempotencyKey),
  },
  { message: 'must be an object' },
);

/**
 * Validates one incoming event. `field` is how the caller named it (`input`, `inputs[3]`, `body`)
 * so the error says exactly which field is wrong.
 */
export function parseEventInput(raw: unknown, field: string) {
  const result = EventInputSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? [field, ...issue.path.map(String)].join('.') : field;
    const message =
      issue?.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue?.message;
    throw new ValidationError(where, message ?? 'is invalid');
  }
  const v = result.data;
  const actor: Actor | null = nullIfEmpty({
    id: v.actor?.id ?? null,
    email: v.actor?.email ?? null,
    name: v.actor?.name ?? null,
    type: v.actor?.type ?? null,
    company: v.actor?.company ?? null,
  });
  const target: Target | null = nullIfEmpty({
    kind: v.target?.kind ?? null,
    id: v.target?.id ?? null,
    name: v.target?.name ?? null,
    email: v.target?.email ?? null,
    company: v.target?.company ?? null,
  });
  return {
    action: v.action,
    name: v.name ?? null,
    title: v.title ?? null,
    description: v.description ?? null,
    actor,
    groupId: v.groupId ?? null,
    target,
    additionalId: v.additionalId ?? null,
    feature: (v.feature
      ? { name: v.feature.name, metas: plainJson(v.feature.metas ?? {}) }
      : null) as Feature | null,
    ipAddress: v.ipAddress ?? null,
    occurredAt: v.occurredAt ?? null,
    sentAt: v.sentAt ?? null,
    metadata: plainJson(v.metadata ?? {}),
    idempotencyKey: v.idempotencyKey ?? null,
  };
}

/**
 * A fresh copy made of plain objects and arrays. GraphQL literals arrive as null-prototype
 * objects, which downstream libraries do not expect; the data itself was validated as JSON.
 */
function plainJson(value: JsonObject): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

function nullIfEmpty<T extends Record<string, string | null>>(o: T): T | null {
  return Object.values(o).some((x) => x !== null) ? o : null;
}

/** Why a JSON object may not have the key `__proto__`; the GraphQL JSONObject scalar says the same. */
export const PROTO_KEY_PROBLEM = 'must not use the key "__proto__" (it cannot be copied faithfully)';

/**
 * Checks that a value is a JSON object we can store in jsonb and hash faithfully: plain data,
 * bounded depth and size, no NUL or lone surrogates, no integers beyond 2^53 (they would have been
 * silently rounded when the request was parsed).
 */
export function jsonObjectProblem(
  value: unknown,
  maxBytes: number,
): { message: string; path: string[] } | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { message: 'must be a JSON object', path: [] };
  }
  const problem = jsonValueProblem(value, 1, []);
  if (problem) return problem;
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > maxBytes)
    return { message: `must be at most ${maxBytes} bytes as JSON (got ${bytes})`, path: [] };
  return null;
}

function jsonValueProblem(
  value: unknown,
  depth: number,
  path: string[],
): { message: string; path: string[] } | null {
  switch (typeof value) {
    case 'string': {
      const p = textProblem(value, false);
      return p ? { message: p, path } : null;
    }
    case 'boolean':
      return null;
    case 'number':
      if (!Number.isFinite(value)) return { message: 'numbers must be finite', path };
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return { message: 'integers beyond ±2^53 lose precision; send them as strings', path };
      }
      return null;
    case 'object': {
      if (value === null) return null;
      if (depth > LIMITS.jsonDepth)
        return { message: `must not nest deeper than ${LIMITS.jsonDepth} levels`, path };
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = jsonValueProblem(value[i], depth + 1, [...path, String(i)]);
          if (p) return p;
        }
        return null;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return { message: 'must be plain JSON data', path };
      for (const key of Object.keys(value)) {
        const kp = textProblem(key, false);
        if (kp) return { message: `key ${JSON.stringify(key)} ${kp}`, path };
        // An own "__proto__" survives JSON.parse, but any code that copies the object by
        // assignment (a merge, a spread into a literal) turns it into a prototype and loses it.
        // Refused from every surface alike, rather than stored in a form a reader may not keep.
        if (key === '__proto__') return { message: PROTO_KEY_PROBLEM, path };
        const p = jsonValueProblem((value as Record<string, unknown>)[key], depth + 1, [...path, key]);
        if (p) return p;
      }
      return null;
    }
    default:
      return { message: `must be JSON data (found ${typeof value})`, path };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Event ids are UUIDs; anything else cannot name an event (and would fail the uuid column). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

// ---------------------------------------------------------------------------------------------
// Reading: orders and keyset positions, in domain terms (the repository turns them into SQL;
// the filters are in filters.ts)

export type OrderField = 'occurredAt' | 'actor' | 'action' | 'targetKind' | 'group';
export type Direction = 'asc' | 'desc';
export type EventOrder = { field: OrderField; direction: Direction };

/** Where a keyset page starts: the sort key (null when ordering by time), the time and the id. */
export type Position = { key: string | null; at: Date; id: string };

/** The sort key of an event under an order, as stored in a cursor. */
export function positionOf(event: AuditEvent, field: OrderField): Position {
  const key =
    field === 'occurredAt'
      ? null
      : field === 'action'
        ? event.action
        : field === 'actor'
          ? (event.actor?.id ?? '')
          : field === 'targetKind'
            ? (event.target?.kind ?? '')
            : (event.groupId ?? '');
  return { key, at: event.occurredAt, id: event.id };
}

export type CatalogEntry = { targetKind: string; action: string; actorType: string };

// ---------------------------------------------------------------------------------------------
// The chain: what the service hands to storage and gets back

/** What the service hands over for storage: the validated event with its server-set fields. */
export type NewEvent = Omit<AuditEvent, 'hash' | 'sequence'> & {
  idempotencyKey: string | null;
  requestHash: Buffer | null;
  /**
   * Sign the head in the transaction that stores this event, due or not: for what the gateway
   * records about the chain itself (a prune), which an auditor most needs vouched for.
   */
  signNow?: boolean;
};

export type AppendOutcome =
  | { kind: 'stored'; event: AuditEvent }
  | { kind: 'replayed'; event: AuditEvent }
  | { kind: 'conflict'; idempotencyKey: string };

export type ChainHead = { seq: number; hash: string; checkpointSeq: number; checkpointAt: Date | null };

export type StoredStatement = {
  kind: string;
  seq: number;
  hash: string;
  signedAt: Date;
  keyId: string;
  statement: string;
  signature: string;
};

export type StoredLink = { seq: number; hash: string; canonical: string; event: AuditEvent };
