// The Pothos schema builder: plugins, scalars and conventions. It defines no types of its own;
// each type lives in its own file, and schema.ts gathers them.
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { EmailAddressResolver, IPResolver, JSONObjectResolver, SafeIntResolver } from 'graphql-scalars';
import { isUuid, type JsonObject, PROTO_KEY_PROBLEM } from '../audit/model.ts';
import { parseDateTime } from '../audit/time.ts';
import { ValidationError } from '../errors.ts';
import type { GraphQLContext } from './context.ts';
import { MAX_NODE_IDS } from './list-limits.ts';

/**
 * graphql-scalars' DateTime, made stricter: the offset is mandatory and sub-millisecond digits are
 * refused rather than silently dropped (events are stored with millisecond precision).
 */
const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description:
    'An instant as an RFC 3339 date-time string with a time zone offset, e.g. `2024-05-01T12:00:00Z` or ' +
    '`2024-05-01T14:00:00+02:00`. A date-time without `Z` or an offset is refused, not read as local time. ' +
    'Stored with millisecond precision; always returned in UTC with milliseconds (`2024-05-01T12:00:00.000Z`).',
  specifiedByURL: 'https://datatracker.ietf.org/doc/html/rfc3339#section-5.6',
  serialize: (value) => {
    if (value instanceof Date) return value.toISOString();
    throw new TypeError(`DateTime cannot represent ${String(value)}`);
  },
  parseValue: (value) => parseDateTimeValue(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw new ValidationError('DateTime', 'must be a string');
    return parseDateTimeValue(ast.value);
  },
});

function parseDateTimeValue(value: unknown): Date {
  if (typeof value !== 'string')
    throw new ValidationError('DateTime', 'must be an RFC 3339 date-time string');
  const parsed = parseDateTime(value);
  if (typeof parsed === 'string') throw new ValidationError('DateTime', `${JSON.stringify(value)} ${parsed}`);
  return parsed;
}

/**
 * graphql-scalars' JSONObject, refusing the key `__proto__` in a literal as the event model refuses
 * it in a variable or a REST body. It has to be caught here: graphql-jit rebuilds literal values
 * before resolvers see them, and a `__proto__` key becomes the object's prototype on the way.
 */
const JSONObject = new GraphQLScalarType({
  ...JSONObjectResolver.toConfig(),
  parseLiteral: (ast) => {
    const at = protoKeyPath(ast, []);
    if (at) throw new ValidationError(['JSONObject', ...at].join('.'), PROTO_KEY_PROBLEM);
    return JSONObjectResolver.parseLiteral(ast);
  },
});

/** Where a literal uses the object key `__proto__`, or null. */
function protoKeyPath(ast: ValueNode, path: string[]): string[] | null {
  if (ast.kind === Kind.LIST) {
    for (const [i, item] of ast.values.entries()) {
      const found = protoKeyPath(item, [...path, String(i)]);
      if (found) return found;
    }
  }
  if (ast.kind !== Kind.OBJECT) return null;
  for (const field of ast.fields) {
    if (field.name.value === '__proto__') return path;
    const found = protoKeyPath(field.value, [...path, field.name.value]);
    if (found) return found;
  }
  return null;
}

const IPAddress = new GraphQLScalarType({
  ...IPResolver.toConfig(),
  name: 'IPAddress',
  description: 'An IPv4 or IPv6 address, e.g. `192.30.252.12` or `2001:db8::1`. Compared as written.',
});

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    EmailAddress: { Input: string; Output: string };
    IPAddress: { Input: string; Output: string };
    JSONObject: { Input: JsonObject; Output: JsonObject };
    SafeInt: { Input: number; Output: number };
  };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  defaultFieldNullability: false,
  plugins: [RelayPlugin],
  relay: {
    cursorType: 'String',
    edgesFieldOptions: { nullable: false, description: 'The events of this page, in the requested order.' },
    nodeFieldOptions: { nullable: false, description: 'The event at this position.' },
    cursorFieldOptions: {
      description:
        'Opaque, signed position of this edge. Pass it as `after` or `before` with the same filter and order; ' +
        'it is refused with another filter, order or API key tenant.',
    },
    pageInfoFieldOptions: { description: 'Where this page sits in the whole result.' },
    hasNextPageFieldOptions: {
      description: 'True when more events follow this page in the requested order.',
    },
    hasPreviousPageFieldOptions: {
      description: 'True when events precede this page in the requested order.',
    },
    startCursorFieldOptions: { description: 'Cursor of the first edge of the page; null for an empty page.' },
    endCursorFieldOptions: { description: 'Cursor of the last edge of the page; null for an empty page.' },
    firstArgOptions: {
      description: 'Page forward: at most this many events after `after` (default 50, maximum 500).',
    },
    lastArgOptions: {
      description: 'Page backward: at most this many events before `before` (maximum 500). Not with `first`.',
    },
    afterArgOptions: { description: 'Cursor from a previous page: return events after it.' },
    beforeArgOptions: { description: 'Cursor from a previous page: return events before it.' },
    pageInfoTypeOptions: { description: 'Relay paging information for a connection.' },
    nodeTypeOptions: { description: 'An object with a globally unique ID that `node(id:)` can fetch again.' },
    idFieldOptions: {
      description:
        'Globally unique ID. For an audit event it is the event UUID, the same id the REST APIs return.',
    },
    nodeQueryOptions: {
      description: 'Fetches any object by its global ID; null when it does not exist or is not yours.',
      args: { id: { description: 'A global ID, e.g. an audit event id.' } },
    },
    nodesQueryOptions: {
      description: 'Fetches several objects by global ID, in the same order; null for each one missing.',
      args: { ids: { description: `Global IDs, e.g. audit event ids; at most ${MAX_NODE_IDS}.` } },
    },
    // An audit event's global ID is its UUID, so REST ids and GraphQL ids are interchangeable.
    encodeGlobalID: (typename, id) =>
      typename === 'AuditEvent' ? String(id) : Buffer.from(`${typename}:${id}`).toString('base64url'),
    decodeGlobalID: (globalID) => {
      if (isUuid(globalID)) return { typename: 'AuditEvent', id: globalID.toLowerCase() };
      // AuditEvent is the only node type, and its ids are bare UUIDs: anything else is not an id
      // this API ever handed out (decoding it as `Type:id` would ask Pothos for a type that does
      // not exist and fail with an internal error).
      throw new ValidationError('id', 'is not a valid global ID: an audit event id is a UUID');
    },
  },
});

builder.addScalarType('DateTime', DateTime);
builder.addScalarType('EmailAddress', EmailAddressResolver);
builder.addScalarType('IPAddress', IPAddress);
builder.addScalarType('JSONObject', JSONObject);
builder.addScalarType('SafeInt', SafeIntResolver);
