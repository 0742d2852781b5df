// Who read the trail: the AuditRead type and the auditReads query (keys with `read_log` only).
import {
  MAX_READ_FILTER_VALUES,
  type READ_KINDS,
  type READ_SURFACES,
  type ReadFilter,
  type StoredRead,
} from '../audit/read-log.ts';
import type { Restriction } from '../audit/viewer.ts';
import { ValidationError } from '../errors.ts';
import { builder } from './builder.ts';
import { ViewerRestrictionRef } from './viewer-token.ts';

const ReadSurface = builder.enumType('ReadSurface', {
  description: 'Which API a read came through.',
  values: {
    GRAPHQL: { value: 'graphql', description: 'GraphQL (`/graphql`), GraphiQL included.' },
    MADKUDU: { value: 'madkudu', description: 'The MadKudu dialect (`/v1/audit`).' },
    MURAL: { value: 'mural', description: 'The Mural dialect (`/enterprise/v1/audit-log`).' },
    WASABI: { value: 'wasabi', description: 'The Wasabi AiR dialect (`/api/data/audit`).' },
    REPLICATED: { value: 'replicated', description: 'The Replicated dialect (`/audit/v1`).' },
    EXPORT: { value: 'export', description: 'The export routes (`/v1/exports/…`).' },
    REST: { value: 'rest', description: 'Any other REST route.' },
  } satisfies Record<string, { value: (typeof READ_SURFACES)[number]; description: string }>,
});

const ReadKind = builder.enumType('ReadKind', {
  description: 'What a read asked for.',
  values: {
    EVENTS: {
      value: 'events',
      description:
        'A page or a stream of events (a listing, an export); `events` says how many it handed out.',
    },
    TAIL: {
      value: 'tail',
      description:
        'A live tail (`auditEventStream`), recorded twice: when it opens (`events` 0; the filter, and ' +
        '`afterSequence` when it resumed) and when it ends (`events` says how many it delivered; the filter adds ' +
        "`openedAt` and `endedBy`, the server's reason code or `client` when the client went away).",
    },
    COUNT: {
      value: 'count',
      description: 'How many events match a filter (`totalCount`); no event came back.',
    },
    LOOKUP: { value: 'lookup', description: 'Events by id (`event`, `node`, `nodes`, a REST lookup).' },
    CATALOG: {
      value: 'catalog',
      description: 'The values to filter on (`availableFilters`); no event came back.',
    },
    VERIFY: {
      value: 'verify',
      description: 'A verification of the hash chain; `events` says how many events it checked.',
    },
    CHECKPOINTS: {
      value: 'checkpoints',
      description: 'A page of the signed checkpoints (`checkpoints`); `events` is 0.',
    },
    CHAIN_EXPORT: { value: 'chain_export', description: 'An export of the whole hash chain.' },
    READS: { value: 'reads', description: 'A page or an export of this read log itself.' },
  } satisfies Record<string, { value: (typeof READ_KINDS)[number]; description: string }>,
});

const AuditReadRef = builder.objectRef<StoredRead>('AuditRead').implement({
  description:
    'One read of your events: who asked (the API key, and the viewer token with its restriction when a browser ' +
    'asked), through which API and operation, with which filter, from which address, and how many events came back.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The record id (a UUID).' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the read was answered (the gateway clock).' }),
    keyId: t.exposeString('keyId', {
      description: 'The public id of the API key that read, or that minted the viewer token that read.',
    }),
    viewerTokenId: t.exposeString('tokenId', {
      nullable: true,
      description: 'The id of the viewer token that read; null when the key itself read.',
    }),
    restriction: t.field({
      type: ViewerRestrictionRef,
      nullable: true,
      description: "The viewer token's slice of the tenant; null for the whole tenant.",
      resolve: (r) => (r.restriction as Restriction | null) ?? null,
    }),
    surface: t.field({
      type: ReadSurface,
      description: 'The API the read came through.',
      resolve: (r) => r.surface as (typeof READ_SURFACES)[number],
    }),
    operation: t.exposeString('operation', {
      description: 'The GraphQL operation name (`anonymous` when it had none), or the REST method and route.',
    }),
    kind: t.field({
      type: ReadKind,
      description: 'What the read asked for.',
      resolve: (r) => r.kind as (typeof READ_KINDS)[number],
    }),
    filter: t.field({
      type: 'JSONObject',
      resolve: (r) => r.filter as Record<string, never>,
      description:
        'The filter as the gateway applied it (with the order, and the ids of a lookup); `{}` when none. Times are ' +
        'ISO 8601 in UTC.',
    }),
    clientAddress: t.exposeString('clientAddress', {
      description: 'Where the request came from: the peer, or X-Forwarded-For through trusted proxies only.',
    }),
    requestId: t.exposeString('requestId', {
      nullable: true,
      description: 'The request id (`X-Request-Id`); the reads of one request share it.',
    }),
    events: t.exposeInt('events', {
      description: 'How many events the read handed back (for a verification: how many it checked).',
    }),
  }),
});

const AuditReadFilter = builder.inputType('AuditReadFilter', {
  description: `Which reads to include: every given condition must hold. Lists hold at most ${MAX_READ_FILTER_VALUES} values.`,
  fields: (t) => ({
    since: t.field({ type: 'DateTime', description: 'Only reads at or after this instant (inclusive).' }),
    until: t.field({ type: 'DateTime', description: 'Only reads before this instant (exclusive).' }),
    keyIds: t.stringList({ description: 'Only reads by these API keys (or tokens they minted).' }),
    surfaces: t.field({ type: [ReadSurface], description: 'Only reads through these APIs.' }),
    kinds: t.field({ type: [ReadKind], description: 'Only these kinds of read.' }),
  }),
});

function toReadFilter(f: typeof AuditReadFilter.$inferInput | null | undefined): ReadFilter {
  return {
    since: f?.since ?? undefined,
    until: f?.until ?? undefined,
    keyIds: f?.keyIds ?? undefined,
    surfaces: f?.surfaces ?? undefined,
    kinds: f?.kinds ?? undefined,
  };
}

builder.queryFields((t) => ({
  auditReads: t.connection(
    {
      type: AuditReadRef,
      description:
        'Who read your events: one record per read (GraphQL, every REST dialect, exports, verifications), newest ' +
        'first. Records are written in batches a fraction of a second after the read. Needs an API key with the ' +
        '`read_log` scope. Pages forward only (`first`/`after`); default 50, maximum 500.',
      args: {
        filter: t.arg({
          type: AuditReadFilter,
          description: 'Which reads to include; all of them when omitted.',
        }),
      },
      resolve: (_root, args, ctx) => {
        if (args.last != null || args.before != null) {
          throw new ValidationError(args.last != null ? 'last' : 'before', 'the read log pages forward only');
        }
        return ctx.readLog.list(ctx.viewer, toReadFilter(args.filter), args);
      },
    },
    {
      description: 'A page of the read log.',
      edgesField: { description: 'The reads of this page, newest first.' },
    },
    { description: 'A read and its cursor.', nodeField: { description: 'The read at this position.' } },
  ),
}));
