// Log streams: destinations (a webhook, a NATS JetStream subject) that receive the tenant's events
// as they are committed, with their delivery status; and the mutations that manage them.
import type { NatsConfig } from '../streams/nats.ts';
import type { LogStreamStatus } from '../streams/service.ts';
import { MAX_NATS_SERVERS } from '../streams/service.ts';
import type { WebhookConfig } from '../streams/webhook.ts';
import { builder } from './builder.ts';

const LogStreamKind = builder.enumType('LogStreamKind', {
  description: 'Where a log stream delivers.',
  values: {
    WEBHOOK: {
      value: 'webhook',
      description:
        'An HTTPS endpoint: batches of events POSTed as JSON `{ tenant, destination, events }`, signed in the ' +
        '`Audit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` header. Any 2xx acknowledges the batch.',
    },
    NATS: {
      value: 'nats',
      description:
        'A NATS JetStream stream: each event published to `<prefix>.<tenant>.<action>` with `Nats-Msg-Id` set to the ' +
        'event id, so a redelivery within the duplicate window is dropped by JetStream.',
    },
  } as const,
});

const NatsDestinationRef = builder.objectRef<NatsConfig>('NatsDestination').implement({
  description: 'Where a NATS log stream publishes.',
  fields: (t) => ({
    servers: t.exposeStringList('servers', { description: 'NATS server addresses.' }),
    stream: t.exposeString('stream', { description: 'The JetStream stream that captures the subjects.' }),
    subjectPrefix: t.exposeString('subjectPrefix', {
      description:
        'First tokens of each subject. An event is published to `<prefix>.<tenant slug>.<action>`, where each `.`, ' +
        '`*`, `>` or whitespace character of the action becomes `_` (the exact action is in the message).',
    }),
    createStream: t.exposeBoolean('createStream', {
      description: 'Whether the gateway creates the stream (capturing `<prefix>.>`) when it does not exist.',
    }),
  }),
});

const LogStreamRef = builder.objectRef<LogStreamStatus>('LogStream').implement({
  description:
    "A destination that receives the tenant's events in sequence order, at least once: each event carries its `id` " +
    'and `sequence`, so a receiver can drop a redelivered one. Its secret is never shown after creation.',
  fields: (t) => ({
    id: t.exposeID('id', {
      description: 'The stream id (a UUID); webhook batches carry it as `destination`.',
    }),
    name: t.exposeString('name', { description: 'A name for people.' }),
    kind: t.field({ type: LogStreamKind, description: 'Webhook or NATS.', resolve: (s) => s.kind }),
    webhookUrl: t.string({
      nullable: true,
      description: 'The URL batches are POSTed to (webhooks only).',
      resolve: (s) => (s.kind === 'webhook' ? (s.destination as WebhookConfig).url : null),
    }),
    nats: t.field({
      type: NatsDestinationRef,
      nullable: true,
      description: 'Where events are published (NATS only).',
      resolve: (s) => (s.kind === 'nats' ? (s.destination as NatsConfig) : null),
    }),
    actions: t.stringList({
      nullable: true,
      description: 'Only events with one of these actions are delivered; null: every event.',
      resolve: (s) => s.actions,
    }),
    paused: t.exposeBoolean('paused', { description: 'A paused stream delivers nothing until resumed.' }),
    position: t.expose('position', {
      type: 'SafeInt',
      description:
        'Every event up to this sequence number has been delivered or skipped by the filter; delivery resumes after it.',
    }),
    lastDeliveredSeq: t.expose('lastDeliveredSeq', {
      type: 'SafeInt',
      nullable: true,
      description: 'Sequence number of the newest event the destination acknowledged; null before the first.',
    }),
    lastDeliveredAt: t.expose('lastDeliveredAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the destination last acknowledged a batch.',
    }),
    lag: t.expose('lag', {
      type: 'SafeInt',
      description: 'How many committed events are beyond `position` (not yet delivered or skipped).',
    }),
    failing: t.exposeBoolean('failing', {
      description: 'True when the latest attempt failed; delivery is retried at `nextRetryAt`.',
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Why the most recent failed attempt failed (kept after later successes; see `failing`).',
    }),
    lastErrorAt: t.expose('lastErrorAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the most recent failed attempt failed.',
    }),
    nextRetryAt: t.expose('nextRetryAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'While failing: the earliest time of the next attempt (exponential backoff with jitter, 1 s to 5 min by ' +
        'default). Null when healthy or paused.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the stream was created.' }),
  }),
});

const WebhookInput = builder.inputType('LogStreamWebhookInput', {
  description: 'An HTTPS endpoint (plain http only to localhost).',
  fields: (t) => ({
    url: t.string({
      required: true,
      description: 'Absolute https:// URL, without credentials, at most 2048 characters.',
    }),
    secret: t.string({
      description:
        'HMAC-SHA256 key for `Audit-Signature`, 32 to 256 characters. Left out: the gateway makes one and returns ' +
        'it once, in `CreateLogStreamPayload.secret`.',
    }),
  }),
});

const NatsInput = builder.inputType('LogStreamNatsInput', {
  description: 'A NATS JetStream destination.',
  fields: (t) => ({
    servers: t.stringList({
      required: true,
      description: `NATS server addresses, \`host:port\` or \`nats://host:port\`; at least 1, at most ${MAX_NATS_SERVERS}.`,
    }),
    stream: t.string({
      required: true,
      description: 'The JetStream stream that captures the subjects (1 to 64 letters, digits, `_`, `-`).',
    }),
    subjectPrefix: t.string({ description: 'First tokens of each subject; default `audit`.' }),
    createStream: t.boolean({
      description: 'Create the stream (capturing `<prefix>.>`) when it does not exist; default false.',
    }),
  }),
});

const StartFrom = builder.enumType('LogStreamStart', {
  description: 'Which events a new log stream delivers.',
  values: {
    NOW: { value: 'now', description: 'Events committed after the stream is created (the default).' },
    BEGINNING: { value: 'beginning', description: "The tenant's whole history, then every new event." },
  } as const,
});

const CreateInput = builder.inputType('CreateLogStreamInput', {
  description: 'A new log stream: a name, exactly one destination, and optionally a filter.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A name for people, 1 to 200 characters.' }),
    webhook: t.field({ type: WebhookInput, description: 'Deliver to an HTTPS endpoint.' }),
    nats: t.field({ type: NatsInput, description: 'Publish to NATS JetStream.' }),
    actions: t.stringList({
      description: 'Only events with one of these actions (at most 100); left out: every event.',
    }),
    startFrom: t.field({ type: StartFrom, description: 'NOW (default) or BEGINNING.' }),
  }),
});

const CreatePayloadRef = builder
  .objectRef<{ stream: LogStreamStatus; secret: string | null }>('CreateLogStreamPayload')
  .implement({
    description: 'The new stream, and its webhook secret: shown here once, never again.',
    fields: (t) => ({
      stream: t.field({ type: LogStreamRef, description: 'The stream.', resolve: (p) => p.stream }),
      secret: t.exposeString('secret', {
        nullable: true,
        description: 'The webhook signing secret (null for NATS). Store it now: no query returns it again.',
      }),
    }),
  });

builder.queryField('logStreams', (t) =>
  t.field({
    type: [LogStreamRef],
    description:
      "The tenant's log streams with their delivery status, oldest first (at most 20). Needs `read` and a key that " +
      'sees the whole tenant.',
    resolve: (_root, _args, ctx) => ctx.streams.list(ctx.viewer),
  }),
);

builder.mutationFields((t) => ({
  createLogStream: t.field({
    type: CreatePayloadRef,
    description:
      "Adds a destination for the tenant's events. Needs both `read` and `write` and a key that sees the whole tenant. " +
      'At most 20 streams per tenant.',
    args: { input: t.arg({ type: CreateInput, required: true, description: 'The stream.' }) },
    resolve: (_root, args, ctx) => ctx.streams.create(ctx.viewer, args.input),
  }),
  deleteLogStream: t.field({
    type: 'ID',
    description: 'Removes a log stream; delivery stops. Returns its id. Needs `read` and `write`.',
    args: { id: t.arg.id({ required: true, description: 'The stream id.' }) },
    resolve: async (_root, args, ctx) => {
      await ctx.streams.delete(ctx.viewer, String(args.id));
      return String(args.id);
    },
  }),
  pauseLogStream: t.field({
    type: LogStreamRef,
    description: 'Stops delivery to a stream, keeping its position. Needs `read` and `write`.',
    args: { id: t.arg.id({ required: true, description: 'The stream id.' }) },
    resolve: (_root, args, ctx) => ctx.streams.setPaused(ctx.viewer, String(args.id), true),
  }),
  resumeLogStream: t.field({
    type: LogStreamRef,
    description:
      'Resumes delivery after the position, at once (any backoff is reset). Needs `read` and `write`.',
    args: { id: t.arg.id({ required: true, description: 'The stream id.' }) },
    resolve: (_root, args, ctx) => ctx.streams.setPaused(ctx.viewer, String(args.id), false),
  }),
}));
