// What every resolver receives. Built once per request by yoga's `context` callback in yoga.ts
// (with createLoaders below); nothing here outlives the request, so no cache can leak between tenants.
import DataLoader from 'dataloader';
import type { ChainService } from '../audit/chain-service.ts';
import type { AuditEvent, EventField } from '../audit/model.ts';
import type { ReadLog } from '../audit/read-log.ts';
import type { AuditService } from '../audit/service.ts';
import type { Viewer } from '../audit/viewer.ts';
import type { ViewerTokens } from '../auth/viewer-tokens.ts';
import type { LogStreamService } from '../streams/service.ts';

export type GraphQLContext = {
  viewer: Viewer;
  audit: AuditService;
  chain: ChainService;
  streams: LogStreamService;
  readLog: ReadLog;
  viewerTokens: ViewerTokens;
  requestId: string;
  loaders: { event: DataLoader<string, AuditEvent | null> };
  /**
   * The AuditEvent fields the operation selects (set by useEventProjection before it runs), so
   * event reads select only their columns; undefined reads every column.
   */
  eventSelection: EventSelection;
};

/** A holder, so the value set on the execution's context reaches the loaders made before it. */
export type EventSelection = { fields: ReadonlySet<EventField> | undefined };

export function createLoaders(
  audit: AuditService,
  viewer: Viewer,
  selection: EventSelection,
): GraphQLContext['loaders'] {
  return {
    // One SQL statement for every event(id:), node(id:) and nodes(ids:) in the request. No
    // maxBatchSize: the service refuses a batch over its limit, so a request cannot read more
    // ids than that by splitting them over many fields.
    event: new DataLoader((ids) => audit.loadEvents(viewer, ids, 'ids', selection.fields)),
  };
}
