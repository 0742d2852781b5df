// What every resolver receives. Built once per request by createContext in app.ts; nothing
// here outlives the request, so no cache can leak between tenants.
import DataLoader from 'dataloader';
import type { ChainService } from '../audit/chain-service.ts';
import type { AuditEvent } from '../audit/model.ts';
import type { AuditService } from '../audit/service.ts';
import type { Viewer } from '../auth/authenticate.ts';

export type GraphQLContext = {
  viewer: Viewer;
  audit: AuditService;
  chain: ChainService;
  requestId: string;
  loaders: { event: DataLoader<string, AuditEvent | null> };
};

export function createLoaders(audit: AuditService, viewer: Viewer): GraphQLContext['loaders'] {
  return {
    // One SQL statement for every event(id:) and node(id:) in the request.
    event: new DataLoader((ids) => audit.loadEvents(viewer.tenantId, ids), { maxBatchSize: 1000 }),
  };
}
