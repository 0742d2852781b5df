// Short-lived viewer tokens for browsers: a backend holding an API key mints one for one of its
// users, and the browser presents it instead of the key. A token is `agwv_` + a TokenSigner token
// (readable base64url JSON claims + HMAC-SHA256 with TOKEN_SECRET under its own purpose), so it
// needs no table. HMAC rather than Ed25519: only this gateway ever checks a token, the secret
// already exists and rotates (TOKEN_SECRET_PREVIOUS), and nobody else needs a public key.
// What a token may do is never more than its minting key: its scopes are a subset, its restriction
// only narrows, and the minting key is looked up on every request, so revoking it ends the token.
import { randomBytes } from 'node:crypto';
import { LIMITS, textProblem } from '../audit/model.ts';
import type { TokenSigner } from '../audit/tokens.ts';
import { type Restriction, SCOPES, type Scope, type Viewer } from '../audit/viewer.ts';
import { ForbiddenError, ValidationError } from '../errors.ts';

export const VIEWER_TOKEN_PREFIX = 'agwv_';

export const VIEWER_TOKEN_TTL = { defaultSeconds: 900, maxSeconds: 3600 } as const;

/** The most values each list of a restriction may hold (actor ids, target ids, group ids, actions). */
export const MAX_RESTRICTION_VALUES = 20;

/**
 * The longest token the gateway mints or reads, prefix included. It travels in a header: proxies
 * and Node refuse headers far beyond a few KiB, so a restriction that would not fit is refused.
 */
export const MAX_VIEWER_TOKEN_LENGTH = 4096;

const RESTRICTION_FIELDS = ['actorIds', 'targetIds', 'groupIds', 'actions'] as const;
type RestrictionField = (typeof RESTRICTION_FIELDS)[number];

/** What a minting request may ask for; absent fields take their defaults. */
export type ViewerTokenRequest = {
  ttlSeconds?: number | null | undefined;
  scopes?: readonly string[] | null | undefined;
  restriction?: { [F in RestrictionField]?: readonly string[] | null | undefined } | null | undefined;
};

export type MintedViewerToken = {
  token: string;
  expiresAt: Date;
  scopes: Scope[];
  /** Absent: the whole tenant. */
  restriction: Restriction | undefined;
};

/** The signed claims, short names to keep the token short. Times in whole seconds since the epoch. */
type Claims = {
  v: 1;
  /** Tenant id. */
  t: number;
  /** Public id of the API key the token descends from (a token minted by a token keeps its root key). */
  k: string;
  s: Scope[];
  r?: Restriction;
  iat: number;
  exp: number;
  jti: string;
};

/** A token that verified: its claims as the domain reads them. Expiry is not checked here. */
export type ViewerTokenClaims = {
  tenantId: number;
  keyId: string;
  scopes: Scope[];
  restriction: Restriction | undefined;
  issuedAt: Date;
  expiresAt: Date;
  tokenId: string;
};

export class ViewerTokens {
  constructor(
    private readonly signer: TokenSigner,
    /** Milliseconds since the epoch; tests mint tokens at another time. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Mints a token for `viewer`'s tenant. Scopes must be a subset of the viewer's; a viewer that is
   * itself a token passes on its root key, cannot outlive itself, and its restriction is
   * intersected with the one asked for. Bad input is a ValidationError naming `${path}.field`.
   */
  mint(viewer: Viewer, request: ViewerTokenRequest, path = ''): MintedViewerToken {
    const at = (field: string) => (path ? `${path}.${field}` : field);
    const nowSeconds = Math.floor(this.now() / 1000);
    const ttl = ttlOf(request.ttlSeconds, viewer, nowSeconds, at('ttlSeconds'));
    const scopes = scopesOf(request.scopes, viewer, at('scopes'));
    const asked = restrictionOf(request.restriction, at('restriction'));
    const restriction = narrowest(viewer.restriction, asked);
    const claims: Claims = {
      v: 1,
      t: viewer.tenantId,
      k: viewer.keyId,
      s: scopes,
      ...(restriction ? { r: restriction } : {}),
      iat: nowSeconds,
      exp: nowSeconds + ttl,
      jti: randomBytes(12).toString('base64url'),
    };
    const token = `${VIEWER_TOKEN_PREFIX}${this.signer.sign('viewer', claims.t, claims)}`;
    if (token.length > MAX_VIEWER_TOKEN_LENGTH) {
      throw new ValidationError(
        at('restriction'),
        `is too large: the token would be ${token.length} characters, at most ${MAX_VIEWER_TOKEN_LENGTH} fit in a header; name fewer or shorter values`,
      );
    }
    return { token, expiresAt: new Date(claims.exp * 1000), scopes, restriction };
  }

  /** The claims of an authentic token, or null when it is malformed, altered or signed with another secret. */
  read(token: string): ViewerTokenClaims | null {
    if (!token.startsWith(VIEWER_TOKEN_PREFIX) || token.length > MAX_VIEWER_TOKEN_LENGTH) return null;
    const signed = token.slice(VIEWER_TOKEN_PREFIX.length);
    // The MAC binds the tenant id, so the claimed one is read first and then checked by the MAC.
    const tenantId = claimedTenant(signed);
    if (tenantId === null) return null;
    const claims = this.signer.verify('viewer', tenantId, signed);
    if (!isClaims(claims) || claims.t !== tenantId) return null;
    return {
      tenantId: claims.t,
      keyId: claims.k,
      scopes: claims.s,
      restriction: claims.r,
      issuedAt: new Date(claims.iat * 1000),
      expiresAt: new Date(claims.exp * 1000),
      tokenId: claims.jti,
    };
  }

  isExpired(expiresAt: Date): boolean {
    return this.now() >= expiresAt.getTime();
  }
}

export function isViewerToken(presented: string): boolean {
  return presented.startsWith(VIEWER_TOKEN_PREFIX);
}

function ttlOf(value: number | null | undefined, viewer: Viewer, nowSeconds: number, field: string): number {
  // A token minting a token: the new one cannot outlive it, or a page could renew itself forever.
  const left = viewer.token
    ? Math.floor(viewer.token.expiresAt.getTime() / 1000) - nowSeconds
    : VIEWER_TOKEN_TTL.maxSeconds;
  if (left < 1)
    throw new ValidationError(
      field,
      'cannot be met: the viewer token minting this one expires within a second',
    );
  if (value === null || value === undefined) return Math.min(VIEWER_TOKEN_TTL.defaultSeconds, left);
  if (!Number.isInteger(value) || value < 1 || value > VIEWER_TOKEN_TTL.maxSeconds) {
    throw new ValidationError(
      field,
      `must be a whole number of seconds from 1 to ${VIEWER_TOKEN_TTL.maxSeconds}`,
    );
  }
  if (value > left) {
    throw new ValidationError(
      field,
      `must be at most ${left}: the viewer token minting this one expires in ${left} seconds`,
    );
  }
  return value;
}

function scopesOf(value: readonly string[] | null | undefined, viewer: Viewer, field: string): Scope[] {
  const asked = value ?? ['read'];
  if (asked.length === 0) throw new ValidationError(field, `must name at least one of ${SCOPES.join(', ')}`);
  const scopes = new Set<Scope>();
  for (const [i, scope] of asked.entries()) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new ValidationError(`${field}[${i}]`, `must be one of ${SCOPES.join(', ')}`);
    }
    // The read log shows who read the whole tenant's trail: backend business, never a browser's.
    if (scope === 'read_log') {
      throw new ValidationError(
        `${field}[${i}]`,
        'a viewer token never carries read_log; use an API key with it',
      );
    }
    if (!viewer.scopes.has(scope as Scope)) {
      throw new ForbiddenError(
        `${field}[${i}]: this key lacks the "${scope}" scope, and a token has no scope its key lacks`,
      );
    }
    scopes.add(scope as Scope);
  }
  return [...scopes].sort();
}

/** The asked restriction, checked, with each list deduplicated and sorted (so equal slices share cursors). */
function restrictionOf(value: ViewerTokenRequest['restriction'], field: string): Restriction | undefined {
  if (value === null || value === undefined) return undefined;
  const restriction: Restriction = {};
  for (const name of RESTRICTION_FIELDS) {
    const list = value[name];
    if (list === null || list === undefined) continue;
    const at = `${field}.${name}`;
    if (list.length > MAX_RESTRICTION_VALUES) {
      throw new ValidationError(at, `must hold at most ${MAX_RESTRICTION_VALUES} values; got ${list.length}`);
    }
    const max = name === 'actions' ? LIMITS.action : LIMITS.identifier;
    for (const [i, item] of list.entries()) {
      const problem =
        typeof item !== 'string'
          ? 'must be a string'
          : item.length === 0
            ? 'must not be empty'
            : item.length > max
              ? `must be at most ${max} characters`
              : textProblem(item, true);
      if (problem) throw new ValidationError(`${at}[${i}]`, problem);
    }
    restriction[name] = [...new Set(list)].sort();
  }
  // `{}` would read as "restricted to nothing in particular", which is the whole tenant.
  if (Object.keys(restriction).length === 0) {
    throw new ValidationError(
      field,
      `must name at least one of ${RESTRICTION_FIELDS.join(', ')}; leave it out for the whole tenant`,
    );
  }
  return restriction;
}

/**
 * What both restrictions allow: each list the minting viewer has stays, cut down to the values
 * also asked for. Never wider than `held`: a value `held` lacks is dropped, and a list emptied
 * that way matches nothing.
 */
export function narrowest(
  held: Restriction | undefined,
  asked: Restriction | undefined,
): Restriction | undefined {
  if (!held) return asked;
  if (!asked) return held;
  const result: Restriction = {};
  for (const name of RESTRICTION_FIELDS) {
    const h = held[name];
    const a = asked[name];
    if (h && a) result[name] = a.filter((v) => h.includes(v));
    else if (h ?? a) result[name] = h ?? a;
  }
  return result;
}

function claimedTenant(signed: string): number | null {
  const dot = signed.indexOf('.');
  if (dot <= 0) return null;
  try {
    const body = JSON.parse(Buffer.from(signed.slice(0, dot), 'base64url').toString('utf8')) as unknown;
    const t = (body as { t?: unknown } | null)?.t;
    return typeof t === 'number' && Number.isSafeInteger(t) ? t : null;
  } catch {
    return null;
  }
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function isClaims(value: unknown): value is Claims {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  const restrictionOk =
    c.r === undefined ||
    (typeof c.r === 'object' &&
      c.r !== null &&
      Object.entries(c.r).every(
        ([k, v]) => (RESTRICTION_FIELDS as readonly string[]).includes(k) && isStringList(v),
      ));
  return (
    c.v === 1 &&
    typeof c.t === 'number' &&
    typeof c.k === 'string' &&
    isStringList(c.s) &&
    c.s.every((s) => (SCOPES as readonly string[]).includes(s)) &&
    restrictionOk &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp) &&
    typeof c.jti === 'string'
  );
}
