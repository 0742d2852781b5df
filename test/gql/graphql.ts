/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Who performed the action. Give at least the fields you know. */
export type ActorInput = {
  /** Company or workspace. */
  company?: string | null | undefined;
  /** Email address of the actor. */
  email?: string | null | undefined;
  /** Stable identifier of the actor (at most 256 characters). */
  id?: string | null | undefined;
  /** Display name. */
  name?: string | null | undefined;
  /** Kind of actor, e.g. `USER`. */
  type?: string | null | undefined;
};

/** What `auditEventCounts` can group events by. Events without the value form a group of their own. */
export type AuditEventCountDimension =
  /** The action. */
  | 'ACTION'
  /** The actor id. */
  | 'ACTOR'
  /** The group id. */
  | 'GROUP'
  /** The IP address the action came from. */
  | 'IP_ADDRESS'
  /** The target id. */
  | 'TARGET'
  /** The target kind. */
  | 'TARGET_KIND';

/** Length of a time bucket. DAY, WEEK and MONTH are calendar units of the requested time zone, so a day on which daylight saving starts lasts 23 hours and one on which it ends 25. HOUR buckets are real hours (such a day has 23 or 25 of them), aligned to the zone. */
export type AuditEventCountInterval =
  /** A local calendar day, from midnight to midnight. */
  | 'DAY'
  /** One hour. */
  | 'HOUR'
  /** A local calendar month. */
  | 'MONTH'
  /** A local week, from Monday midnight (ISO 8601). */
  | 'WEEK';

/** Narrows an event listing. All given fields must match (AND); a list matches any of its values (OR). Lists hold at most 100 values. */
export type AuditEventFilter = {
  /** Only these actions. */
  actions?: Array<string> | null | undefined;
  /** Only events by actors with these emails (exact match). */
  actorEmails?: Array<string> | null | undefined;
  /** Only events by these actor ids. */
  actorIds?: Array<string> | null | undefined;
  /** Only events in these groups. */
  groupIds?: Array<string> | null | undefined;
  /** Only events from these IP addresses (exact match). */
  ipAddresses?: Array<string> | null | undefined;
  /** Free text: every word (split at spaces) must occur somewhere in the action, name, title, description, actor name or email, target name or id, or a metadata value; a word may be part of a longer one ("voice" finds "Invoice", "inv-4711" finds "INV-4711/2"). Case and accents are ignored ("ecole" finds "École"); `%`, `_` and `\` are plain characters. Each word needs at least 3 letters or digits in a row; at most 8 words and 200 characters. A search that runs too long is stopped with an error: add a rarer word or a time window. */
  search?: string | null | undefined;
  /** Only events that occurred at or after this instant (inclusive). */
  since?: string | null | undefined;
  /** Only events on these target ids. */
  targetIds?: Array<string> | null | undefined;
  /** Only events on targets of these kinds. */
  targetKinds?: Array<string> | null | undefined;
  /** Only events that occurred before this instant (exclusive). */
  until?: string | null | undefined;
};

/** Sort order of an event listing. Default: newest first by occurrence time. */
export type AuditEventOrder = {
  /** Direction (default DESC). */
  direction?: OrderDirection | null | undefined;
  /** Sort key (default OCCURRED_AT). */
  field?: AuditEventOrderField | null | undefined;
};

/** What to sort events by. Ties are always broken by occurrence time, then id, in the same direction. */
export type AuditEventOrderField =
  /** Action name. */
  | 'ACTION'
  /** Actor id; events without an actor sort as the empty string. */
  | 'ACTOR'
  /** Group id; events without one sort as the empty string. */
  | 'GROUP'
  /** Occurrence time (the default). */
  | 'OCCURRED_AT'
  /** Target kind; events without one sort as the empty string. */
  | 'TARGET_KIND';

/** Which reads to include: every given condition must hold. Lists hold at most 100 values. */
export type AuditReadFilter = {
  /** Only reads by these API keys (or tokens they minted). */
  keyIds?: Array<string> | null | undefined;
  /** Only these kinds of read. */
  kinds?: Array<ReadKind> | null | undefined;
  /** Only reads at or after this instant (inclusive). */
  since?: string | null | undefined;
  /** Only reads through these APIs. */
  surfaces?: Array<ReadSurface> | null | undefined;
  /** Only reads before this instant (exclusive). */
  until?: string | null | undefined;
};

/** How the chain is broken at the reported sequence number. */
export type ChainBreakKind =
  /** An event that was never recorded by the gateway appears in the chain. */
  | 'INSERTED'
  /** An event that was stored is gone (deleted, or the tail truncated). */
  | 'MISSING'
  /** A stored event (or its hash) differs from what was hashed, or history was rewritten. */
  | 'MODIFIED'
  /** Events are stored under sequence numbers other than their own. */
  | 'REORDERED';

/** What a signed statement is. */
export type ChainStatementKind =
  /** Left by a prune: the hash of the last removed event, where the chain now starts. */
  | 'ANCHOR'
  /** A periodic signature over the tenant's chain head. */
  | 'CHECKPOINT';

/** The verdict of a verification, for scripts. */
export type ChainVerificationStatus =
  /** The chain does not verify; `break` says where and how. */
  | 'BROKEN'
  /** Every checked event verifies, and a signed checkpoint covers them (through `signedThrough`). */
  | 'INTACT'
  /** The events verify, but some stored statements are signed by a key this gateway does not hold (see `unknownKeyIds`): they could not be checked. Add the retired public key to SIGNING_KEY_PREVIOUS. */
  | 'UNKNOWN_KEY'
  /** Every checked event verifies, but no signed checkpoint covers any of them: only the unsigned head vouches for them. */
  | 'UNSIGNED';

/** A new log stream: a name, exactly one destination, and optionally a filter. */
export type CreateLogStreamInput = {
  /** Only events with one of these actions (at most 100); left out: every event. */
  actions?: Array<string> | null | undefined;
  /** A name for people, 1 to 200 characters. */
  name: string;
  /** Publish to NATS JetStream. */
  nats?: LogStreamNatsInput | null | undefined;
  /** NOW (default) or BEGINNING. */
  startFrom?: LogStreamStart | null | undefined;
  /** Deliver to an HTTPS endpoint. */
  webhook?: LogStreamWebhookInput | null | undefined;
};

/** What the token may do, for how long, and on which events. */
export type CreateViewerTokenInput = {
  /** Only these events; absent: the whole tenant. Minted with a restricted viewer token, the new restriction is the intersection with that token's, never wider. */
  restriction?: ViewerRestrictionInput | null | undefined;
  /** Scopes of the token, at most 3; default `[read]`. Each must be a scope of the minting key. */
  scopes?: Array<Scope> | null | undefined;
  /** Lifetime in seconds, from 1 to 3600; default 900. Minted with a viewer token, at most what that token has left (and by default no more). */
  ttlSeconds?: number | null | undefined;
};

/** Product area and context (MadKudu `feature`). */
export type FeatureInput = {
  /** Free-form context, at most 8 KiB as JSON. */
  metas?: Record<string, unknown> | null | undefined;
  /** Name of the feature, e.g. `general`. */
  name: string;
};

/** Where a log stream delivers. */
export type LogStreamKind =
  /** A NATS JetStream stream: each event published to `<prefix>.<tenant>.<action>` with `Nats-Msg-Id` set to the event id, so a redelivery within the duplicate window is dropped by JetStream. */
  | 'NATS'
  /** An HTTPS endpoint: batches of events POSTed as JSON `{ tenant, destination, events }`, signed in the `Audit-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` header. Any 2xx acknowledges the batch. */
  | 'WEBHOOK';

/** A NATS JetStream destination. */
export type LogStreamNatsInput = {
  /** Create the stream (capturing `<prefix>.>`) when it does not exist; default false. */
  createStream?: boolean | null | undefined;
  /** NATS server addresses, `host:port` or `nats://host:port`; at least 1, at most 10. */
  servers: Array<string>;
  /** The JetStream stream that captures the subjects (1 to 64 letters, digits, `_`, `-`). */
  stream: string;
  /** First tokens of each subject; default `audit`. */
  subjectPrefix?: string | null | undefined;
};

/** Which events a new log stream delivers. */
export type LogStreamStart =
  /** The tenant's whole history, then every new event. */
  | 'BEGINNING'
  /** Events committed after the stream is created (the default). */
  | 'NOW';

/** An HTTPS endpoint (plain http only to localhost). */
export type LogStreamWebhookInput = {
  /** HMAC-SHA256 key for `Audit-Signature`, 32 to 256 characters. Left out: the gateway makes one and returns it once, in `CreateLogStreamPayload.secret`. */
  secret?: string | null | undefined;
  /** Absolute https:// URL, without credentials, at most 2048 characters. */
  url: string;
};

/** Sort direction. */
export type OrderDirection =
  /** Smallest or oldest first. */
  | 'ASC'
  /** Largest or newest first. */
  | 'DESC';

/** What a read asked for. */
export type ReadKind =
  /** The values to filter on (`availableFilters`); no event came back. */
  | 'CATALOG'
  /** An export of the whole hash chain. */
  | 'CHAIN_EXPORT'
  /** A page of the signed checkpoints (`checkpoints`); `events` is 0. */
  | 'CHECKPOINTS'
  /** How many events match a filter (`totalCount`); no event came back. */
  | 'COUNT'
  /** A page or a stream of events (a listing, an export); `events` says how many it handed out. */
  | 'EVENTS'
  /** Events by id (`event`, `node`, `nodes`, a REST lookup). */
  | 'LOOKUP'
  /** A page or an export of this read log itself. */
  | 'READS'
  /** A live tail (`auditEventStream`), recorded twice: when it opens (`events` 0; the filter, and `afterSequence` when it resumed) and when it ends (`events` says how many it delivered; the filter adds `openedAt` and `endedBy`, the server's reason code or `client` when the client went away). */
  | 'TAIL'
  /** A verification of the hash chain; `events` says how many events it checked. */
  | 'VERIFY';

/** Which API a read came through. */
export type ReadSurface =
  /** The export routes (`/v1/exports/…`). */
  | 'EXPORT'
  /** GraphQL (`/graphql`), GraphiQL included. */
  | 'GRAPHQL'
  /** The MadKudu dialect (`/v1/audit`). */
  | 'MADKUDU'
  /** The Mural dialect (`/enterprise/v1/audit-log`). */
  | 'MURAL'
  /** The Replicated dialect (`/audit/v1`). */
  | 'REPLICATED'
  /** Any other REST route. */
  | 'REST'
  /** The Wasabi AiR dialect (`/api/data/audit`). */
  | 'WASABI';

/** An event to record. Text may not contain NUL or other control characters (tab and newline are allowed in `title` and `description`). The server sets `id`, `sequence`, `receivedAt` and `hash`. */
export type RecordEventInput = {
  /** Machine name of the action, 1 to 200 characters. */
  action: string;
  /** Who performed the action. */
  actor?: ActorInput | null | undefined;
  /** Id of an additional object involved. */
  additionalId?: string | null | undefined;
  /** Human-readable description, at most 8192 characters. */
  description?: string | null | undefined;
  /** Product area and context. */
  feature?: FeatureInput | null | undefined;
  /** Group the actor acted in. */
  groupId?: string | null | undefined;
  /** Makes retries safe: a second call with the same key returns the original event and stores nothing; the same key with a different event is refused with CONFLICT. Keys are per tenant, at most 200 characters. */
  idempotencyKey?: string | null | undefined;
  /** Address the action came from. */
  ipAddress?: string | null | undefined;
  /** Free-form JSON object, at most 16 KiB and 8 levels deep. */
  metadata?: Record<string, unknown> | null | undefined;
  /** Short name of the event. */
  name?: string | null | undefined;
  /** When the action happened; defaults to now. At most 24 hours in the future, not before 1970. */
  occurredAt?: string | null | undefined;
  /** When the producer sent the event. */
  sentAt?: string | null | undefined;
  /** What the action was performed on. */
  target?: TargetInput | null | undefined;
  /** Human-readable title, at most 512 characters. */
  title?: string | null | undefined;
};

/** What a key or a viewer token may do. */
export type Scope =
  /** Read events: lists, counts, filters, lookups by id, the chain. */
  | 'read'
  /** Read who read the trail (`auditReads`): every read of the tenant, whoever made it. Keys only; a viewer token never carries it. */
  | 'read_log'
  /** Record events. */
  | 'write';

/** A checkpoint you kept outside the gateway (from `checkpoints` or `audit-gateway checkpoint`). */
export type SignedCheckpointInput = {
  /** Its base64 signature. */
  signature: string;
  /** The exact signed text. */
  statement: string;
};

/** What the action was performed on. */
export type TargetInput = {
  /** Company the target belongs to. */
  company?: string | null | undefined;
  /** Email address, when the target is a person. */
  email?: string | null | undefined;
  /** Identifier of the target object. */
  id?: string | null | undefined;
  /** Type or category of the target. */
  kind?: string | null | undefined;
  /** Display name. */
  name?: string | null | undefined;
};

/** Limits a viewer token to some events: only those matching every list given (each by any of its values). Name at least one list. Lists hold at most 20 values; duplicates are merged. An empty list matches nothing. */
export type ViewerRestrictionInput = {
  /** Only these actions. */
  actions?: Array<string> | null | undefined;
  /** Only events by these actor ids. */
  actorIds?: Array<string> | null | undefined;
  /** Only events in these groups. */
  groupIds?: Array<string> | null | undefined;
  /** Only events on these target ids. */
  targetIds?: Array<string> | null | undefined;
};

export type CacheWhoAmIQueryVariables = Exact<{ [key: string]: never; }>;


export type CacheWhoAmIQuery = { viewer: { keyId: string } };

export type CacheMintTokenMutationVariables = Exact<{
  input: CreateViewerTokenInput;
}>;


export type CacheMintTokenMutation = { createViewerToken: { token: string } };

export type CacheReadsOfQueryVariables = Exact<{
  first?: number | null | undefined;
}>;


export type CacheReadsOfQuery = { auditReads: { edges: Array<{ node: { requestId: string | null } }> } };

export type MyEventsQueryVariables = Exact<{ [key: string]: never; }>;


export type MyEventsQuery = { viewer: { scopes: Array<string>, tenant: { slug: string } }, auditEvents: { totalCount: number, edges: Array<{ node: { id: string, action: string } }> } };

export type RecordForAuthMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type RecordForAuthMutation = { recordEvent: { id: string } };

export type VerifyChainQueryVariables = Exact<{
  from?: number | null | undefined;
  to?: number | null | undefined;
  checkpoint?: SignedCheckpointInput | null | undefined;
}>;


export type VerifyChainQuery = { verifyChain: { intact: boolean, status: ChainVerificationStatus, unknownKeyIds: Array<string>, fromSequence: number | null, toSequence: number | null, eventsChecked: number, checkpointsChecked: number, headSequence: number, signedThrough: number | null, break: { sequence: number, kind: ChainBreakKind, detail: string } | null } };

export type ListCheckpointsQueryVariables = Exact<{ [key: string]: never; }>;


export type ListCheckpointsQuery = { checkpoints: Array<{ kind: ChainStatementKind, sequence: number, hash: string, signedAt: string, keyId: string, statement: string, signature: string, problem: string | null }> };

export type RecordForChainMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type RecordForChainMutation = { recordEvent: { id: string, sequence: number, hash: string, action: string, name: string | null, title: string | null, description: string | null, groupId: string | null, additionalId: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, metadata: Record<string, unknown>, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } };

export type ChainEventByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type ChainEventByIdQuery = { event: { id: string, sequence: number, hash: string, action: string, name: string | null, title: string | null, description: string | null, groupId: string | null, additionalId: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, metadata: Record<string, unknown>, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } | null };

export type CrossSurfaceRecordMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type CrossSurfaceRecordMutation = { recordEvent: { id: string } };

export type CrossSurfaceEventQueryVariables = Exact<{
  id: string | number;
}>;


export type CrossSurfaceEventQuery = { event: { id: string, sequence: number, action: string, name: string | null, title: string | null, description: string | null, groupId: string | null, additionalId: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, metadata: Record<string, unknown>, hash: string, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } | null };

export type CrossSurfaceNewestQueryVariables = Exact<{ [key: string]: never; }>;


export type CrossSurfaceNewestQuery = { auditEvents: { edges: Array<{ node: { id: string, name: string | null } }> } };

export type EventCountsQueryVariables = Exact<{
  filter?: AuditEventFilter | null | undefined;
  groupBy?: Array<AuditEventCountDimension> | AuditEventCountDimension | null | undefined;
  interval?: AuditEventCountInterval | null | undefined;
  timeZone?: string | null | undefined;
  first?: number | null | undefined;
}>;


export type EventCountsQuery = { auditEventCounts: { total: number, other: number, otherGroups: number, interval: AuditEventCountInterval | null, timeZone: string, groups: Array<{ count: number, buckets: Array<number>, key: { action: string | null, actorId: string | null, targetKind: string | null, targetId: string | null, groupId: string | null, ipAddress: string | null } }>, buckets: Array<{ start: string, end: string, count: number, other: number }> } };

export type EventsToCountQueryVariables = Exact<{
  filter?: AuditEventFilter | null | undefined;
}>;


export type EventsToCountQuery = { auditEvents: { edges: Array<{ node: { action: string, groupId: string | null, ipAddress: string | null, occurredAt: string, actor: { id: string | null } | null, target: { kind: string | null, id: string | null } | null } }>, pageInfo: { hasNextPage: boolean } } };

export type RecordOneMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type RecordOneMutation = { recordEvent: { id: string, sequence: number, action: string, name: string | null, title: string | null, description: string | null, groupId: string | null, additionalId: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, metadata: Record<string, unknown>, hash: string, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } };

export type StoredEventQueryVariables = Exact<{
  id: string | number;
}>;


export type StoredEventQuery = { event: { id: string, sequence: number, action: string, name: string | null, title: string | null, description: string | null, groupId: string | null, additionalId: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, metadata: Record<string, unknown>, hash: string, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } | null };

export type CountEventsQueryVariables = Exact<{ [key: string]: never; }>;


export type CountEventsQuery = { auditEvents: { totalCount: number } };

export type FiltersQueryVariables = Exact<{ [key: string]: never; }>;


export type FiltersQuery = { availableFilters: { actions: Array<string>, actorTypes: Array<string>, targetKinds: Array<{ name: string, actions: Array<string> }>, timeRange: { earliest: string | null, latest: string | null } } };

export type RecordEventsForFiltersMutationVariables = Exact<{
  inputs: Array<RecordEventInput> | RecordEventInput;
}>;


export type RecordEventsForFiltersMutation = { recordEvents: Array<
    | { __typename: 'RecordEventFailure' }
    | { __typename: 'RecordEventSuccess', event: { id: string } }
  > };

export type FilteredEventsQueryVariables = Exact<{
  filter?: AuditEventFilter | null | undefined;
  first?: number | null | undefined;
}>;


export type FilteredEventsQuery = { auditEvents: { totalCount: number, edges: Array<{ node: { id: string } }>, pageInfo: { hasNextPage: boolean } } };

export type RecordEventsForPagingMutationVariables = Exact<{
  inputs: Array<RecordEventInput> | RecordEventInput;
}>;


export type RecordEventsForPagingMutation = { recordEvents: Array<
    | { __typename: 'RecordEventFailure', field: string, message: string }
    | { __typename: 'RecordEventSuccess', event: { id: string } }
  > };

export type PageOfEventsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
  last?: number | null | undefined;
  before?: string | null | undefined;
  orderBy?: AuditEventOrder | null | undefined;
}>;


export type PageOfEventsQuery = { auditEvents: { edges: Array<{ cursor: string, node: { id: string, occurredAt: string, action: string, groupId: string | null, actor: { id: string | null } | null, target: { kind: string | null } | null } }>, pageInfo: { hasNextPage: boolean, hasPreviousPage: boolean, startCursor: string | null, endCursor: string | null } } };

export type RecordIdempotentMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type RecordIdempotentMutation = { recordEvent: { id: string, sequence: number, action: string } };

export type CountIdempotentQueryVariables = Exact<{ [key: string]: never; }>;


export type CountIdempotentQuery = { auditEvents: { totalCount: number } };

export type BatchIdempotentMutationVariables = Exact<{
  inputs: Array<RecordEventInput> | RecordEventInput;
}>;


export type BatchIdempotentMutation = { recordEvents: Array<
    | { __typename: 'RecordEventFailure', index: number, code: string, field: string, message: string }
    | { __typename: 'RecordEventSuccess', index: number, replayed: boolean, event: { id: string } }
  > };

export type IsoRecordMutationVariables = Exact<{
  input: RecordEventInput;
}>;


export type IsoRecordMutation = { recordEvent: { id: string } };

export type IsoListQueryVariables = Exact<{
  filter?: AuditEventFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type IsoListQuery = { auditEvents: { edges: Array<{ node: { id: string, action: string, actor: { id: string | null, email: string | null } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type IsoGetQueryVariables = Exact<{
  id: string | number;
}>;


export type IsoGetQuery = { event: { id: string, action: string } | null, node: { id: string } | null };

export type CreateNatsLogStreamMutationVariables = Exact<{
  input: CreateLogStreamInput;
}>;


export type CreateNatsLogStreamMutation = { createLogStream: { secret: string | null, stream: { id: string, kind: LogStreamKind, nats: { servers: Array<string>, stream: string, subjectPrefix: string, createStream: boolean } | null } } };

export type NatsLogStreamStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type NatsLogStreamStatusQuery = { logStreams: Array<{ id: string, position: number, lastDeliveredSeq: number | null, lag: number, failing: boolean, lastError: string | null, nextRetryAt: string | null }> };

export type CreateLogStreamMutationVariables = Exact<{
  input: CreateLogStreamInput;
}>;


export type CreateLogStreamMutation = { createLogStream: { secret: string | null, stream: { id: string, kind: LogStreamKind, webhookUrl: string | null, position: number, lag: number } } };

export type LogStreamStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type LogStreamStatusQuery = { logStreams: Array<{ id: string, name: string, kind: LogStreamKind, webhookUrl: string | null, actions: Array<string> | null, paused: boolean, position: number, lastDeliveredSeq: number | null, lag: number, failing: boolean, lastError: string | null, lastErrorAt: string | null, nextRetryAt: string | null }> };

export type DeleteLogStreamMutationVariables = Exact<{
  id: string | number;
}>;


export type DeleteLogStreamMutation = { deleteLogStream: string };

export type PauseLogStreamMutationVariables = Exact<{
  id: string | number;
}>;


export type PauseLogStreamMutation = { pauseLogStream: { paused: boolean, position: number, nextRetryAt: string | null } };

export type ResumeLogStreamMutationVariables = Exact<{
  id: string | number;
}>;


export type ResumeLogStreamMutation = { resumeLogStream: { paused: boolean } };

export type AuditReadsQueryVariables = Exact<{
  filter?: AuditReadFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type AuditReadsQuery = { auditReads: { edges: Array<{ node: { id: string, at: string, keyId: string, viewerTokenId: string | null, surface: ReadSurface, operation: string, kind: ReadKind, filter: Record<string, unknown>, clientAddress: string, requestId: string | null, events: number, restriction: { actorIds: Array<string> | null, targetIds: Array<string> | null, groupIds: Array<string> | null, actions: Array<string> | null } | null } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type ReplicatedStoredQueryVariables = Exact<{ [key: string]: never; }>;


export type ReplicatedStoredQuery = { auditEvents: { totalCount: number, edges: Array<{ node: { id: string, sequence: number, action: string, name: string | null, title: string | null, description: string | null, ipAddress: string | null, occurredAt: string, sentAt: string | null, receivedAt: string, groupId: string | null, additionalId: string | null, metadata: Record<string, unknown>, actor: { id: string | null, email: string | null, name: string | null, type: string | null, company: string | null } | null, target: { kind: string | null, id: string | null, name: string | null, email: string | null, company: string | null } | null, feature: { name: string, metas: Record<string, unknown> } | null } }> } };

export type RecordForSearchMutationVariables = Exact<{
  inputs: Array<RecordEventInput> | RecordEventInput;
}>;


export type RecordForSearchMutation = { recordEvents: Array<
    | { __typename: 'RecordEventFailure', field: string, message: string }
    | { __typename: 'RecordEventSuccess', event: { id: string } }
  > };

export type SearchEventsQueryVariables = Exact<{
  filter?: AuditEventFilter | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type SearchEventsQuery = { auditEvents: { totalCount: number, edges: Array<{ node: { id: string } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type MintForSearchMutationVariables = Exact<{
  input: CreateViewerTokenInput;
}>;


export type MintForSearchMutation = { createViewerToken: { token: string } };


export const CacheWhoAmIDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CacheWhoAmI"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"keyId"}}]}}]}}]} as unknown as DocumentNode<CacheWhoAmIQuery, CacheWhoAmIQueryVariables>;
export const CacheMintTokenDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CacheMintToken"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateViewerTokenInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createViewerToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"token"}}]}}]}}]} as unknown as DocumentNode<CacheMintTokenMutation, CacheMintTokenMutationVariables>;
export const CacheReadsOfDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CacheReadsOf"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditReads"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"requestId"}}]}}]}}]}}]}}]} as unknown as DocumentNode<CacheReadsOfQuery, CacheReadsOfQueryVariables>;
export const MyEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MyEvents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"viewer"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"tenant"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"slug"}}]}},{"kind":"Field","name":{"kind":"Name","value":"scopes"}}]}},{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"100"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"action"}}]}}]}}]}}]}}]} as unknown as DocumentNode<MyEventsQuery, MyEventsQueryVariables>;
export const RecordForAuthDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordForAuth"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<RecordForAuthMutation, RecordForAuthMutationVariables>;
export const VerifyChainDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"VerifyChain"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"from"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SafeInt"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"to"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SafeInt"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"checkpoint"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"SignedCheckpointInput"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"verifyChain"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"fromSequence"},"value":{"kind":"Variable","name":{"kind":"Name","value":"from"}}},{"kind":"Argument","name":{"kind":"Name","value":"toSequence"},"value":{"kind":"Variable","name":{"kind":"Name","value":"to"}}},{"kind":"Argument","name":{"kind":"Name","value":"checkpoint"},"value":{"kind":"Variable","name":{"kind":"Name","value":"checkpoint"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"intact"}},{"kind":"Field","name":{"kind":"Name","value":"status"}},{"kind":"Field","name":{"kind":"Name","value":"unknownKeyIds"}},{"kind":"Field","name":{"kind":"Name","value":"fromSequence"}},{"kind":"Field","name":{"kind":"Name","value":"toSequence"}},{"kind":"Field","name":{"kind":"Name","value":"eventsChecked"}},{"kind":"Field","name":{"kind":"Name","value":"checkpointsChecked"}},{"kind":"Field","name":{"kind":"Name","value":"headSequence"}},{"kind":"Field","name":{"kind":"Name","value":"signedThrough"}},{"kind":"Field","name":{"kind":"Name","value":"break"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"detail"}}]}}]}}]}}]} as unknown as DocumentNode<VerifyChainQuery, VerifyChainQueryVariables>;
export const ListCheckpointsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ListCheckpoints"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"checkpoints"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"1000"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"signedAt"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"statement"}},{"kind":"Field","name":{"kind":"Name","value":"signature"}},{"kind":"Field","name":{"kind":"Name","value":"problem"}}]}}]}}]} as unknown as DocumentNode<ListCheckpointsQuery, ListCheckpointsQueryVariables>;
export const RecordForChainDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordForChain"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]} as unknown as DocumentNode<RecordForChainMutation, RecordForChainMutationVariables>;
export const ChainEventByIdDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ChainEventById"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]} as unknown as DocumentNode<ChainEventByIdQuery, ChainEventByIdQueryVariables>;
export const CrossSurfaceRecordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CrossSurfaceRecord"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<CrossSurfaceRecordMutation, CrossSurfaceRecordMutationVariables>;
export const CrossSurfaceEventDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CrossSurfaceEvent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]} as unknown as DocumentNode<CrossSurfaceEventQuery, CrossSurfaceEventQueryVariables>;
export const CrossSurfaceNewestDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CrossSurfaceNewest"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"10"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]}}]} as unknown as DocumentNode<CrossSurfaceNewestQuery, CrossSurfaceNewestQueryVariables>;
export const EventCountsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"EventCounts"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"groupBy"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventCountDimension"}}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"interval"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventCountInterval"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"timeZone"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEventCounts"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"groupBy"},"value":{"kind":"Variable","name":{"kind":"Name","value":"groupBy"}}},{"kind":"Argument","name":{"kind":"Name","value":"interval"},"value":{"kind":"Variable","name":{"kind":"Name","value":"interval"}}},{"kind":"Argument","name":{"kind":"Name","value":"timeZone"},"value":{"kind":"Variable","name":{"kind":"Name","value":"timeZone"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"total"}},{"kind":"Field","name":{"kind":"Name","value":"other"}},{"kind":"Field","name":{"kind":"Name","value":"otherGroups"}},{"kind":"Field","name":{"kind":"Name","value":"interval"}},{"kind":"Field","name":{"kind":"Name","value":"timeZone"}},{"kind":"Field","name":{"kind":"Name","value":"groups"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"actorId"}},{"kind":"Field","name":{"kind":"Name","value":"targetKind"}},{"kind":"Field","name":{"kind":"Name","value":"targetId"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}}]}},{"kind":"Field","name":{"kind":"Name","value":"count"}},{"kind":"Field","name":{"kind":"Name","value":"buckets"}}]}},{"kind":"Field","name":{"kind":"Name","value":"buckets"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"start"}},{"kind":"Field","name":{"kind":"Name","value":"end"}},{"kind":"Field","name":{"kind":"Name","value":"count"}},{"kind":"Field","name":{"kind":"Name","value":"other"}}]}}]}}]}}]} as unknown as DocumentNode<EventCountsQuery, EventCountsQueryVariables>;
export const EventsToCountDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"EventsToCount"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventFilter"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"500"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}}]}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}}]}}]}}]} as unknown as DocumentNode<EventsToCountQuery, EventsToCountQueryVariables>;
export const RecordOneDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordOne"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]} as unknown as DocumentNode<RecordOneMutation, RecordOneMutationVariables>;
export const StoredEventDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"StoredEvent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"hash"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]} as unknown as DocumentNode<StoredEventQuery, StoredEventQueryVariables>;
export const CountEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CountEvents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}}]}}]}}]} as unknown as DocumentNode<CountEventsQuery, CountEventsQueryVariables>;
export const FiltersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Filters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"availableFilters"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"actions"}},{"kind":"Field","name":{"kind":"Name","value":"actorTypes"}},{"kind":"Field","name":{"kind":"Name","value":"targetKinds"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"actions"}}]}},{"kind":"Field","name":{"kind":"Name","value":"timeRange"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"earliest"}},{"kind":"Field","name":{"kind":"Name","value":"latest"}}]}}]}}]}}]} as unknown as DocumentNode<FiltersQuery, FiltersQueryVariables>;
export const RecordEventsForFiltersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordEventsForFilters"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"inputs"},"value":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]}}]}}]} as unknown as DocumentNode<RecordEventsForFiltersMutation, RecordEventsForFiltersMutationVariables>;
export const FilteredEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"FilteredEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}}]}}]}}]}}]} as unknown as DocumentNode<FilteredEventsQuery, FilteredEventsQueryVariables>;
export const RecordEventsForPagingDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordEventsForPaging"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"inputs"},"value":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventFailure"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<RecordEventsForPagingMutation, RecordEventsForPagingMutationVariables>;
export const PageOfEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"PageOfEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"last"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"before"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"orderBy"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventOrder"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"last"},"value":{"kind":"Variable","name":{"kind":"Name","value":"last"}}},{"kind":"Argument","name":{"kind":"Name","value":"before"},"value":{"kind":"Variable","name":{"kind":"Name","value":"before"}}},{"kind":"Argument","name":{"kind":"Name","value":"orderBy"},"value":{"kind":"Variable","name":{"kind":"Name","value":"orderBy"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"cursor"}},{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"hasPreviousPage"}},{"kind":"Field","name":{"kind":"Name","value":"startCursor"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<PageOfEventsQuery, PageOfEventsQueryVariables>;
export const RecordIdempotentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordIdempotent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"action"}}]}}]}}]} as unknown as DocumentNode<RecordIdempotentMutation, RecordIdempotentMutationVariables>;
export const CountIdempotentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"CountIdempotent"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}}]}}]}}]} as unknown as DocumentNode<CountIdempotentQuery, CountIdempotentQueryVariables>;
export const BatchIdempotentDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"BatchIdempotent"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"inputs"},"value":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"replayed"}},{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventFailure"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"index"}},{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<BatchIdempotentMutation, BatchIdempotentMutationVariables>;
export const IsoRecordDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"IsoRecord"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvent"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<IsoRecordMutation, IsoRecordMutationVariables>;
export const IsoListDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"IsoList"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<IsoListQuery, IsoListQueryVariables>;
export const IsoGetDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"IsoGet"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"action"}}]}},{"kind":"Field","name":{"kind":"Name","value":"node"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}}]} as unknown as DocumentNode<IsoGetQuery, IsoGetQueryVariables>;
export const CreateNatsLogStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateNatsLogStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateLogStreamInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createLogStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"stream"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"nats"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"servers"}},{"kind":"Field","name":{"kind":"Name","value":"stream"}},{"kind":"Field","name":{"kind":"Name","value":"subjectPrefix"}},{"kind":"Field","name":{"kind":"Name","value":"createStream"}}]}}]}}]}}]}}]} as unknown as DocumentNode<CreateNatsLogStreamMutation, CreateNatsLogStreamMutationVariables>;
export const NatsLogStreamStatusDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"NatsLogStreamStatus"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"logStreams"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"lastDeliveredSeq"}},{"kind":"Field","name":{"kind":"Name","value":"lag"}},{"kind":"Field","name":{"kind":"Name","value":"failing"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"}},{"kind":"Field","name":{"kind":"Name","value":"nextRetryAt"}}]}}]}}]} as unknown as DocumentNode<NatsLogStreamStatusQuery, NatsLogStreamStatusQueryVariables>;
export const CreateLogStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateLogStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateLogStreamInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createLogStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"secret"}},{"kind":"Field","name":{"kind":"Name","value":"stream"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"webhookUrl"}},{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"lag"}}]}}]}}]}}]} as unknown as DocumentNode<CreateLogStreamMutation, CreateLogStreamMutationVariables>;
export const LogStreamStatusDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"LogStreamStatus"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"logStreams"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"webhookUrl"}},{"kind":"Field","name":{"kind":"Name","value":"actions"}},{"kind":"Field","name":{"kind":"Name","value":"paused"}},{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"lastDeliveredSeq"}},{"kind":"Field","name":{"kind":"Name","value":"lag"}},{"kind":"Field","name":{"kind":"Name","value":"failing"}},{"kind":"Field","name":{"kind":"Name","value":"lastError"}},{"kind":"Field","name":{"kind":"Name","value":"lastErrorAt"}},{"kind":"Field","name":{"kind":"Name","value":"nextRetryAt"}}]}}]}}]} as unknown as DocumentNode<LogStreamStatusQuery, LogStreamStatusQueryVariables>;
export const DeleteLogStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"DeleteLogStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"deleteLogStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<DeleteLogStreamMutation, DeleteLogStreamMutationVariables>;
export const PauseLogStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"PauseLogStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"pauseLogStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"paused"}},{"kind":"Field","name":{"kind":"Name","value":"position"}},{"kind":"Field","name":{"kind":"Name","value":"nextRetryAt"}}]}}]}}]} as unknown as DocumentNode<PauseLogStreamMutation, PauseLogStreamMutationVariables>;
export const ResumeLogStreamDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"ResumeLogStream"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"resumeLogStream"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"paused"}}]}}]}}]} as unknown as DocumentNode<ResumeLogStreamMutation, ResumeLogStreamMutationVariables>;
export const AuditReadsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"AuditReads"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditReadFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditReads"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"at"}},{"kind":"Field","name":{"kind":"Name","value":"keyId"}},{"kind":"Field","name":{"kind":"Name","value":"viewerTokenId"}},{"kind":"Field","name":{"kind":"Name","value":"restriction"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"actorIds"}},{"kind":"Field","name":{"kind":"Name","value":"targetIds"}},{"kind":"Field","name":{"kind":"Name","value":"groupIds"}},{"kind":"Field","name":{"kind":"Name","value":"actions"}}]}},{"kind":"Field","name":{"kind":"Name","value":"surface"}},{"kind":"Field","name":{"kind":"Name","value":"operation"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"filter"}},{"kind":"Field","name":{"kind":"Name","value":"clientAddress"}},{"kind":"Field","name":{"kind":"Name","value":"requestId"}},{"kind":"Field","name":{"kind":"Name","value":"events"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<AuditReadsQuery, AuditReadsQueryVariables>;
export const ReplicatedStoredDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ReplicatedStored"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"100"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"sequence"}},{"kind":"Field","name":{"kind":"Name","value":"action"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"title"}},{"kind":"Field","name":{"kind":"Name","value":"description"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"occurredAt"}},{"kind":"Field","name":{"kind":"Name","value":"sentAt"}},{"kind":"Field","name":{"kind":"Name","value":"receivedAt"}},{"kind":"Field","name":{"kind":"Name","value":"groupId"}},{"kind":"Field","name":{"kind":"Name","value":"additionalId"}},{"kind":"Field","name":{"kind":"Name","value":"metadata"}},{"kind":"Field","name":{"kind":"Name","value":"actor"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"target"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"company"}}]}},{"kind":"Field","name":{"kind":"Name","value":"feature"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"metas"}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<ReplicatedStoredQuery, ReplicatedStoredQueryVariables>;
export const RecordForSearchDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RecordForSearch"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}},"type":{"kind":"NonNullType","type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventInput"}}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"recordEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"inputs"},"value":{"kind":"Variable","name":{"kind":"Name","value":"inputs"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"event"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"RecordEventFailure"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"field"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]} as unknown as DocumentNode<RecordForSearchMutation, RecordForSearchMutationVariables>;
export const SearchEventsDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"SearchEvents"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"filter"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AuditEventFilter"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"auditEvents"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"filter"},"value":{"kind":"Variable","name":{"kind":"Name","value":"filter"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}}]}}]}}]} as unknown as DocumentNode<SearchEventsQuery, SearchEventsQueryVariables>;
export const MintForSearchDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"MintForSearch"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateViewerTokenInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createViewerToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"token"}}]}}]}}]} as unknown as DocumentNode<MintForSearchMutation, MintForSearchMutationVariables>;