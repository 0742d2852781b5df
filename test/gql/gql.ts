/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query CacheWhoAmI { viewer { keyId } }\n": typeof types.CacheWhoAmIDocument,
    "\n  mutation CacheMintToken($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }\n": typeof types.CacheMintTokenDocument,
    "\n  query CacheReadsOf($first: Int) { auditReads(first: $first) { edges { node { requestId } } } }\n": typeof types.CacheReadsOfDocument,
    "\n  query MyEvents { viewer { tenant { slug } scopes } auditEvents(first: 100) { totalCount edges { node { id action } } } }\n": typeof types.MyEventsDocument,
    "\n  mutation RecordForAuth($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": typeof types.RecordForAuthDocument,
    "\n  query VerifyChain($from: SafeInt, $to: SafeInt, $checkpoint: SignedCheckpointInput) {\n    verifyChain(fromSequence: $from, toSequence: $to, checkpoint: $checkpoint) {\n      intact status unknownKeyIds fromSequence toSequence eventsChecked checkpointsChecked headSequence signedThrough\n      break { sequence kind detail }\n    }\n  }\n": typeof types.VerifyChainDocument,
    "\n  query ListCheckpoints { checkpoints(first: 1000) { kind sequence hash signedAt keyId statement signature problem } }\n": typeof types.ListCheckpointsDocument,
    "\n  mutation RecordForChain($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": typeof types.RecordForChainDocument,
    "\n  query ChainEventById($id: ID!) {\n    event(id: $id) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": typeof types.ChainEventByIdDocument,
    "\n  mutation CrossSurfaceRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": typeof types.CrossSurfaceRecordDocument,
    "\n  query CrossSurfaceEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": typeof types.CrossSurfaceEventDocument,
    "\n  query CrossSurfaceNewest { auditEvents(first: 10) { edges { node { id name } } } }\n": typeof types.CrossSurfaceNewestDocument,
    "\n  query EventCounts(\n    $filter: AuditEventFilter\n    $groupBy: [AuditEventCountDimension!]\n    $interval: AuditEventCountInterval\n    $timeZone: String\n    $first: Int\n  ) {\n    auditEventCounts(filter: $filter, groupBy: $groupBy, interval: $interval, timeZone: $timeZone, first: $first) {\n      total\n      other\n      otherGroups\n      interval\n      timeZone\n      groups { key { action actorId targetKind targetId groupId ipAddress } count buckets }\n      buckets { start end count other }\n    }\n  }\n": typeof types.EventCountsDocument,
    "\n  query EventsToCount($filter: AuditEventFilter) {\n    auditEvents(filter: $filter, first: 500) {\n      edges { node { action actor { id } target { kind id } groupId ipAddress occurredAt } }\n      pageInfo { hasNextPage }\n    }\n  }\n": typeof types.EventsToCountDocument,
    "\n  mutation RecordOne($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": typeof types.RecordOneDocument,
    "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": typeof types.StoredEventDocument,
    "\n  query CountEvents { auditEvents { totalCount } }\n": typeof types.CountEventsDocument,
    "\n  query Filters {\n    availableFilters {\n      actions\n      actorTypes\n      targetKinds { name actions }\n      timeRange { earliest latest }\n    }\n  }\n": typeof types.FiltersDocument,
    "\n  mutation RecordEventsForFilters($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n    }\n  }\n": typeof types.RecordEventsForFiltersDocument,
    "\n  query FilteredEvents($filter: AuditEventFilter, $first: Int) {\n    auditEvents(filter: $filter, first: $first) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage }\n    }\n  }\n": typeof types.FilteredEventsDocument,
    "\n  mutation RecordEventsForPaging($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n": typeof types.RecordEventsForPagingDocument,
    "\n  query PageOfEvents($first: Int, $after: String, $last: Int, $before: String, $orderBy: AuditEventOrder) {\n    auditEvents(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {\n      edges { cursor node { id occurredAt action groupId actor { id } target { kind } } }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    }\n  }\n": typeof types.PageOfEventsDocument,
    "\n  mutation RecordIdempotent($input: RecordEventInput!) { recordEvent(input: $input) { id sequence action } }\n": typeof types.RecordIdempotentDocument,
    "\n  query CountIdempotent { auditEvents { totalCount } }\n": typeof types.CountIdempotentDocument,
    "\n  mutation BatchIdempotent($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { index replayed event { id } }\n      ... on RecordEventFailure { index code field message }\n    }\n  }\n": typeof types.BatchIdempotentDocument,
    "\n  mutation IsoRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": typeof types.IsoRecordDocument,
    "\n  query IsoList($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      edges { node { id action actor { id email } } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.IsoListDocument,
    "\n  query IsoGet($id: ID!) { event(id: $id) { id action } node(id: $id) { id } }\n": typeof types.IsoGetDocument,
    "\n  mutation CreateNatsLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind nats { servers stream subjectPrefix createStream } }\n    }\n  }\n": typeof types.CreateNatsLogStreamDocument,
    "\n  query NatsLogStreamStatus {\n    logStreams { id position lastDeliveredSeq lag failing lastError nextRetryAt }\n  }\n": typeof types.NatsLogStreamStatusDocument,
    "\n  mutation CreateLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind webhookUrl position lag }\n    }\n  }\n": typeof types.CreateLogStreamDocument,
    "\n  query LogStreamStatus {\n    logStreams {\n      id\n      name\n      kind\n      webhookUrl\n      actions\n      paused\n      position\n      lastDeliveredSeq\n      lag\n      failing\n      lastError\n      lastErrorAt\n      nextRetryAt\n    }\n  }\n": typeof types.LogStreamStatusDocument,
    "\n  mutation DeleteLogStream($id: ID!) {\n    deleteLogStream(id: $id)\n  }\n": typeof types.DeleteLogStreamDocument,
    "\n  mutation PauseLogStream($id: ID!) {\n    pauseLogStream(id: $id) { paused position nextRetryAt }\n  }\n": typeof types.PauseLogStreamDocument,
    "\n  mutation ResumeLogStream($id: ID!) {\n    resumeLogStream(id: $id) { paused }\n  }\n": typeof types.ResumeLogStreamDocument,
    "\n  query AuditReads($filter: AuditReadFilter, $first: Int, $after: String) {\n    auditReads(filter: $filter, first: $first, after: $after) {\n      edges {\n        node {\n          id\n          at\n          keyId\n          viewerTokenId\n          restriction { actorIds targetIds groupIds actions }\n          surface\n          operation\n          kind\n          filter\n          clientAddress\n          requestId\n          events\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.AuditReadsDocument,
    "\n  query ReplicatedStored {\n    auditEvents(first: 100) {\n      totalCount\n      edges {\n        node {\n          id sequence action name title description ipAddress occurredAt sentAt receivedAt\n          groupId additionalId metadata\n          actor { id email name type company }\n          target { kind id name email company }\n          feature { name metas }\n        }\n      }\n    }\n  }\n": typeof types.ReplicatedStoredDocument,
    "\n  mutation RecordForSearch($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n": typeof types.RecordForSearchDocument,
    "\n  query SearchEvents($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": typeof types.SearchEventsDocument,
    "\n  mutation MintForSearch($input: CreateViewerTokenInput!) {\n    createViewerToken(input: $input) { token }\n  }\n": typeof types.MintForSearchDocument,
};
const documents: Documents = {
    "\n  query CacheWhoAmI { viewer { keyId } }\n": types.CacheWhoAmIDocument,
    "\n  mutation CacheMintToken($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }\n": types.CacheMintTokenDocument,
    "\n  query CacheReadsOf($first: Int) { auditReads(first: $first) { edges { node { requestId } } } }\n": types.CacheReadsOfDocument,
    "\n  query MyEvents { viewer { tenant { slug } scopes } auditEvents(first: 100) { totalCount edges { node { id action } } } }\n": types.MyEventsDocument,
    "\n  mutation RecordForAuth($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": types.RecordForAuthDocument,
    "\n  query VerifyChain($from: SafeInt, $to: SafeInt, $checkpoint: SignedCheckpointInput) {\n    verifyChain(fromSequence: $from, toSequence: $to, checkpoint: $checkpoint) {\n      intact status unknownKeyIds fromSequence toSequence eventsChecked checkpointsChecked headSequence signedThrough\n      break { sequence kind detail }\n    }\n  }\n": types.VerifyChainDocument,
    "\n  query ListCheckpoints { checkpoints(first: 1000) { kind sequence hash signedAt keyId statement signature problem } }\n": types.ListCheckpointsDocument,
    "\n  mutation RecordForChain($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": types.RecordForChainDocument,
    "\n  query ChainEventById($id: ID!) {\n    event(id: $id) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": types.ChainEventByIdDocument,
    "\n  mutation CrossSurfaceRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": types.CrossSurfaceRecordDocument,
    "\n  query CrossSurfaceEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": types.CrossSurfaceEventDocument,
    "\n  query CrossSurfaceNewest { auditEvents(first: 10) { edges { node { id name } } } }\n": types.CrossSurfaceNewestDocument,
    "\n  query EventCounts(\n    $filter: AuditEventFilter\n    $groupBy: [AuditEventCountDimension!]\n    $interval: AuditEventCountInterval\n    $timeZone: String\n    $first: Int\n  ) {\n    auditEventCounts(filter: $filter, groupBy: $groupBy, interval: $interval, timeZone: $timeZone, first: $first) {\n      total\n      other\n      otherGroups\n      interval\n      timeZone\n      groups { key { action actorId targetKind targetId groupId ipAddress } count buckets }\n      buckets { start end count other }\n    }\n  }\n": types.EventCountsDocument,
    "\n  query EventsToCount($filter: AuditEventFilter) {\n    auditEvents(filter: $filter, first: 500) {\n      edges { node { action actor { id } target { kind id } groupId ipAddress occurredAt } }\n      pageInfo { hasNextPage }\n    }\n  }\n": types.EventsToCountDocument,
    "\n  mutation RecordOne($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": types.RecordOneDocument,
    "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n": types.StoredEventDocument,
    "\n  query CountEvents { auditEvents { totalCount } }\n": types.CountEventsDocument,
    "\n  query Filters {\n    availableFilters {\n      actions\n      actorTypes\n      targetKinds { name actions }\n      timeRange { earliest latest }\n    }\n  }\n": types.FiltersDocument,
    "\n  mutation RecordEventsForFilters($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n    }\n  }\n": types.RecordEventsForFiltersDocument,
    "\n  query FilteredEvents($filter: AuditEventFilter, $first: Int) {\n    auditEvents(filter: $filter, first: $first) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage }\n    }\n  }\n": types.FilteredEventsDocument,
    "\n  mutation RecordEventsForPaging($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n": types.RecordEventsForPagingDocument,
    "\n  query PageOfEvents($first: Int, $after: String, $last: Int, $before: String, $orderBy: AuditEventOrder) {\n    auditEvents(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {\n      edges { cursor node { id occurredAt action groupId actor { id } target { kind } } }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    }\n  }\n": types.PageOfEventsDocument,
    "\n  mutation RecordIdempotent($input: RecordEventInput!) { recordEvent(input: $input) { id sequence action } }\n": types.RecordIdempotentDocument,
    "\n  query CountIdempotent { auditEvents { totalCount } }\n": types.CountIdempotentDocument,
    "\n  mutation BatchIdempotent($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { index replayed event { id } }\n      ... on RecordEventFailure { index code field message }\n    }\n  }\n": types.BatchIdempotentDocument,
    "\n  mutation IsoRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n": types.IsoRecordDocument,
    "\n  query IsoList($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      edges { node { id action actor { id email } } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.IsoListDocument,
    "\n  query IsoGet($id: ID!) { event(id: $id) { id action } node(id: $id) { id } }\n": types.IsoGetDocument,
    "\n  mutation CreateNatsLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind nats { servers stream subjectPrefix createStream } }\n    }\n  }\n": types.CreateNatsLogStreamDocument,
    "\n  query NatsLogStreamStatus {\n    logStreams { id position lastDeliveredSeq lag failing lastError nextRetryAt }\n  }\n": types.NatsLogStreamStatusDocument,
    "\n  mutation CreateLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind webhookUrl position lag }\n    }\n  }\n": types.CreateLogStreamDocument,
    "\n  query LogStreamStatus {\n    logStreams {\n      id\n      name\n      kind\n      webhookUrl\n      actions\n      paused\n      position\n      lastDeliveredSeq\n      lag\n      failing\n      lastError\n      lastErrorAt\n      nextRetryAt\n    }\n  }\n": types.LogStreamStatusDocument,
    "\n  mutation DeleteLogStream($id: ID!) {\n    deleteLogStream(id: $id)\n  }\n": types.DeleteLogStreamDocument,
    "\n  mutation PauseLogStream($id: ID!) {\n    pauseLogStream(id: $id) { paused position nextRetryAt }\n  }\n": types.PauseLogStreamDocument,
    "\n  mutation ResumeLogStream($id: ID!) {\n    resumeLogStream(id: $id) { paused }\n  }\n": types.ResumeLogStreamDocument,
    "\n  query AuditReads($filter: AuditReadFilter, $first: Int, $after: String) {\n    auditReads(filter: $filter, first: $first, after: $after) {\n      edges {\n        node {\n          id\n          at\n          keyId\n          viewerTokenId\n          restriction { actorIds targetIds groupIds actions }\n          surface\n          operation\n          kind\n          filter\n          clientAddress\n          requestId\n          events\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.AuditReadsDocument,
    "\n  query ReplicatedStored {\n    auditEvents(first: 100) {\n      totalCount\n      edges {\n        node {\n          id sequence action name title description ipAddress occurredAt sentAt receivedAt\n          groupId additionalId metadata\n          actor { id email name type company }\n          target { kind id name email company }\n          feature { name metas }\n        }\n      }\n    }\n  }\n": types.ReplicatedStoredDocument,
    "\n  mutation RecordForSearch($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n": types.RecordForSearchDocument,
    "\n  query SearchEvents($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n": types.SearchEventsDocument,
    "\n  mutation MintForSearch($input: CreateViewerTokenInput!) {\n    createViewerToken(input: $input) { token }\n  }\n": types.MintForSearchDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CacheWhoAmI { viewer { keyId } }\n"): (typeof documents)["\n  query CacheWhoAmI { viewer { keyId } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CacheMintToken($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }\n"): (typeof documents)["\n  mutation CacheMintToken($input: CreateViewerTokenInput!) { createViewerToken(input: $input) { token } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CacheReadsOf($first: Int) { auditReads(first: $first) { edges { node { requestId } } } }\n"): (typeof documents)["\n  query CacheReadsOf($first: Int) { auditReads(first: $first) { edges { node { requestId } } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyEvents { viewer { tenant { slug } scopes } auditEvents(first: 100) { totalCount edges { node { id action } } } }\n"): (typeof documents)["\n  query MyEvents { viewer { tenant { slug } scopes } auditEvents(first: 100) { totalCount edges { node { id action } } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordForAuth($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"): (typeof documents)["\n  mutation RecordForAuth($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query VerifyChain($from: SafeInt, $to: SafeInt, $checkpoint: SignedCheckpointInput) {\n    verifyChain(fromSequence: $from, toSequence: $to, checkpoint: $checkpoint) {\n      intact status unknownKeyIds fromSequence toSequence eventsChecked checkpointsChecked headSequence signedThrough\n      break { sequence kind detail }\n    }\n  }\n"): (typeof documents)["\n  query VerifyChain($from: SafeInt, $to: SafeInt, $checkpoint: SignedCheckpointInput) {\n    verifyChain(fromSequence: $from, toSequence: $to, checkpoint: $checkpoint) {\n      intact status unknownKeyIds fromSequence toSequence eventsChecked checkpointsChecked headSequence signedThrough\n      break { sequence kind detail }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ListCheckpoints { checkpoints(first: 1000) { kind sequence hash signedAt keyId statement signature problem } }\n"): (typeof documents)["\n  query ListCheckpoints { checkpoints(first: 1000) { kind sequence hash signedAt keyId statement signature problem } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordForChain($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordForChain($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ChainEventById($id: ID!) {\n    event(id: $id) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"): (typeof documents)["\n  query ChainEventById($id: ID!) {\n    event(id: $id) {\n      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CrossSurfaceRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"): (typeof documents)["\n  mutation CrossSurfaceRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CrossSurfaceEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"): (typeof documents)["\n  query CrossSurfaceEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CrossSurfaceNewest { auditEvents(first: 10) { edges { node { id name } } } }\n"): (typeof documents)["\n  query CrossSurfaceNewest { auditEvents(first: 10) { edges { node { id name } } } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EventCounts(\n    $filter: AuditEventFilter\n    $groupBy: [AuditEventCountDimension!]\n    $interval: AuditEventCountInterval\n    $timeZone: String\n    $first: Int\n  ) {\n    auditEventCounts(filter: $filter, groupBy: $groupBy, interval: $interval, timeZone: $timeZone, first: $first) {\n      total\n      other\n      otherGroups\n      interval\n      timeZone\n      groups { key { action actorId targetKind targetId groupId ipAddress } count buckets }\n      buckets { start end count other }\n    }\n  }\n"): (typeof documents)["\n  query EventCounts(\n    $filter: AuditEventFilter\n    $groupBy: [AuditEventCountDimension!]\n    $interval: AuditEventCountInterval\n    $timeZone: String\n    $first: Int\n  ) {\n    auditEventCounts(filter: $filter, groupBy: $groupBy, interval: $interval, timeZone: $timeZone, first: $first) {\n      total\n      other\n      otherGroups\n      interval\n      timeZone\n      groups { key { action actorId targetKind targetId groupId ipAddress } count buckets }\n      buckets { start end count other }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query EventsToCount($filter: AuditEventFilter) {\n    auditEvents(filter: $filter, first: 500) {\n      edges { node { action actor { id } target { kind id } groupId ipAddress occurredAt } }\n      pageInfo { hasNextPage }\n    }\n  }\n"): (typeof documents)["\n  query EventsToCount($filter: AuditEventFilter) {\n    auditEvents(filter: $filter, first: 500) {\n      edges { node { action actor { id } target { kind id } groupId ipAddress occurredAt } }\n      pageInfo { hasNextPage }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordOne($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordOne($input: RecordEventInput!) {\n    recordEvent(input: $input) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"): (typeof documents)["\n  query StoredEvent($id: ID!) {\n    event(id: $id) {\n      id sequence action name title description groupId additionalId ipAddress\n      occurredAt sentAt receivedAt metadata hash\n      actor { id email name type company }\n      target { kind id name email company }\n      feature { name metas }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CountEvents { auditEvents { totalCount } }\n"): (typeof documents)["\n  query CountEvents { auditEvents { totalCount } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Filters {\n    availableFilters {\n      actions\n      actorTypes\n      targetKinds { name actions }\n      timeRange { earliest latest }\n    }\n  }\n"): (typeof documents)["\n  query Filters {\n    availableFilters {\n      actions\n      actorTypes\n      targetKinds { name actions }\n      timeRange { earliest latest }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordEventsForFilters($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordEventsForFilters($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query FilteredEvents($filter: AuditEventFilter, $first: Int) {\n    auditEvents(filter: $filter, first: $first) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage }\n    }\n  }\n"): (typeof documents)["\n  query FilteredEvents($filter: AuditEventFilter, $first: Int) {\n    auditEvents(filter: $filter, first: $first) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordEventsForPaging($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordEventsForPaging($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PageOfEvents($first: Int, $after: String, $last: Int, $before: String, $orderBy: AuditEventOrder) {\n    auditEvents(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {\n      edges { cursor node { id occurredAt action groupId actor { id } target { kind } } }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    }\n  }\n"): (typeof documents)["\n  query PageOfEvents($first: Int, $after: String, $last: Int, $before: String, $orderBy: AuditEventOrder) {\n    auditEvents(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {\n      edges { cursor node { id occurredAt action groupId actor { id } target { kind } } }\n      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordIdempotent($input: RecordEventInput!) { recordEvent(input: $input) { id sequence action } }\n"): (typeof documents)["\n  mutation RecordIdempotent($input: RecordEventInput!) { recordEvent(input: $input) { id sequence action } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CountIdempotent { auditEvents { totalCount } }\n"): (typeof documents)["\n  query CountIdempotent { auditEvents { totalCount } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation BatchIdempotent($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { index replayed event { id } }\n      ... on RecordEventFailure { index code field message }\n    }\n  }\n"): (typeof documents)["\n  mutation BatchIdempotent($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { index replayed event { id } }\n      ... on RecordEventFailure { index code field message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation IsoRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"): (typeof documents)["\n  mutation IsoRecord($input: RecordEventInput!) { recordEvent(input: $input) { id } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query IsoList($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      edges { node { id action actor { id email } } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query IsoList($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      edges { node { id action actor { id email } } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query IsoGet($id: ID!) { event(id: $id) { id action } node(id: $id) { id } }\n"): (typeof documents)["\n  query IsoGet($id: ID!) { event(id: $id) { id action } node(id: $id) { id } }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateNatsLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind nats { servers stream subjectPrefix createStream } }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateNatsLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind nats { servers stream subjectPrefix createStream } }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query NatsLogStreamStatus {\n    logStreams { id position lastDeliveredSeq lag failing lastError nextRetryAt }\n  }\n"): (typeof documents)["\n  query NatsLogStreamStatus {\n    logStreams { id position lastDeliveredSeq lag failing lastError nextRetryAt }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind webhookUrl position lag }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateLogStream($input: CreateLogStreamInput!) {\n    createLogStream(input: $input) {\n      secret\n      stream { id kind webhookUrl position lag }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query LogStreamStatus {\n    logStreams {\n      id\n      name\n      kind\n      webhookUrl\n      actions\n      paused\n      position\n      lastDeliveredSeq\n      lag\n      failing\n      lastError\n      lastErrorAt\n      nextRetryAt\n    }\n  }\n"): (typeof documents)["\n  query LogStreamStatus {\n    logStreams {\n      id\n      name\n      kind\n      webhookUrl\n      actions\n      paused\n      position\n      lastDeliveredSeq\n      lag\n      failing\n      lastError\n      lastErrorAt\n      nextRetryAt\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeleteLogStream($id: ID!) {\n    deleteLogStream(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeleteLogStream($id: ID!) {\n    deleteLogStream(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PauseLogStream($id: ID!) {\n    pauseLogStream(id: $id) { paused position nextRetryAt }\n  }\n"): (typeof documents)["\n  mutation PauseLogStream($id: ID!) {\n    pauseLogStream(id: $id) { paused position nextRetryAt }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ResumeLogStream($id: ID!) {\n    resumeLogStream(id: $id) { paused }\n  }\n"): (typeof documents)["\n  mutation ResumeLogStream($id: ID!) {\n    resumeLogStream(id: $id) { paused }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query AuditReads($filter: AuditReadFilter, $first: Int, $after: String) {\n    auditReads(filter: $filter, first: $first, after: $after) {\n      edges {\n        node {\n          id\n          at\n          keyId\n          viewerTokenId\n          restriction { actorIds targetIds groupIds actions }\n          surface\n          operation\n          kind\n          filter\n          clientAddress\n          requestId\n          events\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query AuditReads($filter: AuditReadFilter, $first: Int, $after: String) {\n    auditReads(filter: $filter, first: $first, after: $after) {\n      edges {\n        node {\n          id\n          at\n          keyId\n          viewerTokenId\n          restriction { actorIds targetIds groupIds actions }\n          surface\n          operation\n          kind\n          filter\n          clientAddress\n          requestId\n          events\n        }\n      }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ReplicatedStored {\n    auditEvents(first: 100) {\n      totalCount\n      edges {\n        node {\n          id sequence action name title description ipAddress occurredAt sentAt receivedAt\n          groupId additionalId metadata\n          actor { id email name type company }\n          target { kind id name email company }\n          feature { name metas }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ReplicatedStored {\n    auditEvents(first: 100) {\n      totalCount\n      edges {\n        node {\n          id sequence action name title description ipAddress occurredAt sentAt receivedAt\n          groupId additionalId metadata\n          actor { id email name type company }\n          target { kind id name email company }\n          feature { name metas }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RecordForSearch($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n"): (typeof documents)["\n  mutation RecordForSearch($inputs: [RecordEventInput!]!) {\n    recordEvents(inputs: $inputs) {\n      __typename\n      ... on RecordEventSuccess { event { id } }\n      ... on RecordEventFailure { field message }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchEvents($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"): (typeof documents)["\n  query SearchEvents($filter: AuditEventFilter, $first: Int, $after: String) {\n    auditEvents(filter: $filter, first: $first, after: $after) {\n      totalCount\n      edges { node { id } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation MintForSearch($input: CreateViewerTokenInput!) {\n    createViewerToken(input: $input) { token }\n  }\n"): (typeof documents)["\n  mutation MintForSearch($input: CreateViewerTokenInput!) {\n    createViewerToken(input: $input) { token }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;