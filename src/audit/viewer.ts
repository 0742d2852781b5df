// Who is asking, as the domain sees it: the tenant, what the caller may do, and which slice of the
// tenant's events it may see. Every service method takes one and decides from it alone, so a new
// transport or entry point cannot forget a check.
import { ForbiddenError } from '../errors.ts';

/** `read_log`: read who read the trail (the read log); never given to a viewer token. */
export const SCOPES = ['read', 'write', 'read_log'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * Narrows what a viewer may read to a slice of its tenant's events. Each list given is one more
 * condition (an event must match one of its values); the conditions are ANDed with each other
 * and with whatever filter the caller asks for. An empty list matches nothing: a restriction
 * can only ever take events away.
 */
export type Restriction = {
  actorIds?: readonly string[] | undefined;
  targetIds?: readonly string[] | undefined;
  groupIds?: readonly string[] | undefined;
  actions?: readonly string[] | undefined;
};

export type Viewer = {
  tenantId: number;
  tenantSlug: string;
  /** Public id of the API key (or `operator` for the command line). */
  keyId: string;
  scopes: ReadonlySet<Scope>;
  /** Absent: the whole tenant. */
  restriction?: Restriction | undefined;
  /** Set when the caller presented a viewer token (minted by `keyId`) rather than the key itself. */
  token?: { id: string; expiresAt: Date } | undefined;
  /**
   * Where the request came from, for the read log: set by the transport on a viewer it
   * authenticated. Absent (the operator at the command line, the server's own maintenance): its
   * reads are not recorded.
   */
  origin?: ReadOrigin | undefined;
  /** The tenant's read-log switch, read with the key: false when the operator turned it off. */
  recordReads?: boolean | undefined;
};

/** What the read log says about a request besides who asked; see src/audit/read-log.ts. */
export type ReadOrigin = {
  /** `graphql`, a REST dialect (`madkudu`, `mural`, `wasabi`, `replicated`), `export` or `rest`. */
  surface: string;
  /** The GraphQL operation name, or the REST method and route pattern. */
  operation: string;
  clientAddress: string;
  requestId: string;
};

export function requireScope(viewer: Viewer, scope: Scope): void {
  if (!viewer.scopes.has(scope)) {
    throw new ForbiddenError(`This API key lacks the "${scope}" scope`);
  }
}

/** For what only makes sense on the whole tenant (its hash chain covers every event). */
export function requireWholeTenant(viewer: Viewer, what: string): void {
  if (viewer.restriction) {
    throw new ForbiddenError(`${what} covers every event of the tenant; this key sees only some of them`);
  }
}

// Viewers made by operatorViewer, and only those: a viewer built from an API key, or copied from
// one, is never in here, so no HTTP request can pass for the operator.
const operators = new WeakSet<Viewer>();

/**
 * The operator at the command line (`audit-gateway verify`, `prune`, `import`…), acting on one
 * tenant with every scope. Only the CLI and the server's own maintenance build one; no HTTP path
 * does (test/every-door.test.ts checks that the transports never import it).
 */
export function operatorViewer(tenant: { id: number; slug: string }): Viewer {
  const viewer: Viewer = {
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    keyId: 'operator',
    scopes: new Set(SCOPES),
  };
  operators.add(viewer);
  return viewer;
}

/** For what no API key may do, whatever its scopes (removing events). */
export function requireOperator(viewer: Viewer, what: string): void {
  if (!operators.has(viewer)) throw new ForbiddenError(`${what} is for the operator, not for an API key`);
}
