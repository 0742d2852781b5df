// The live tail: the AuditEventStreamEdge type and the auditEventStream subscription, served as
// Server-Sent Events on /graphql (graphql-sse "distinct connections" mode, built into yoga).
import type { TailItem } from '../audit/service.ts';
import { AuditEventFilter, AuditEventRef, toFilter } from './audit-event.ts';
import { builder } from './builder.ts';

type StreamEdge = Extract<TailItem, { cursor: string }>;

const AuditEventStreamEdgeRef = builder.objectRef<StreamEdge>('AuditEventStreamEdge').implement({
  description: 'An event delivered by the live tail, with the cursor to resume after it.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', {
      description:
        'Opaque, signed position of this event in the commit order. Pass it as `after` to resume a dropped stream ' +
        '(on this or another instance, also after a restart) with nothing missed or repeated.',
    }),
    node: t.field({ type: AuditEventRef, description: 'The event.', resolve: (e) => e.node }),
  }),
});

builder.subscriptionFields((t) => ({
  auditEventStream: t.field({
    type: AuditEventStreamEdgeRef,
    description:
      'Every event committed after `after` that matches the filter (and, for a viewer token, its restriction), in ' +
      'commit order with no gap and no duplicate, as it happens. Needs `read`. Send it as Server-Sent Events: ' +
      '`POST /graphql` with `Accept: text/event-stream`. The server ends a stream with one error whose ' +
      '`extensions.code` says why (`STREAM_LIMIT`, `UNAUTHENTICATED` when the token expires or the key is revoked, ' +
      '`SLOW_CONSUMER`, `SHUTTING_DOWN`) and whose `extensions.lastCursor` is where to resume.',
    args: {
      filter: t.arg({
        type: AuditEventFilter,
        description: 'Which events to deliver; all of them when omitted. `since`/`until` bound `occurredAt`.',
      }),
      after: t.arg.string({
        description:
          'Start after this position: the `streamPosition` of an `auditEvents` page, or the `cursor` of an event a ' +
          'stream delivered. Omitted: from now (events committed after the stream opened).',
      }),
    },
    subscribe: (_root, args, ctx) => ctx.audit.tailEvents(ctx.viewer, toFilter(args.filter), args.after),
    resolve: (item: TailItem) => {
      if ('ended' in item) throw item.ended;
      return item;
    },
  }),
}));
