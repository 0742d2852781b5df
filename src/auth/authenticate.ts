// Resolves the caller of a request from its API key or viewer token: the tenant it acts for, its
// scopes and its slice. The tenant always comes from the key (a token's minting key), never from
// anything else in the request.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Viewer } from '../audit/viewer.ts';
import type { Db } from '../db/client.ts';
import { RateLimitedError, UnauthenticatedError } from '../errors.ts';
import { recordKeyLookup } from '../metrics.ts';
import type { KeyCache } from './key-cache.ts';
import { parseApiKey, SCOPES, type Scope, secretMatches } from './keys.ts';
import { findApiKey, type StoredKey } from './repository.ts';
import { isViewerToken, type ViewerTokens } from './viewer-tokens.ts';

/** Reads the key from any of the accepted headers; undefined when none is present. */
export function presentedKey(headers: Headers): string | undefined {
  const xApiKey = headers.get('x-api-key');
  if (xApiKey) return xApiKey.trim();
  const authorization = headers.get('authorization');
  if (!authorization) return undefined;
  const [scheme = '', ...rest] = authorization.trim().split(/\s+/);
  const value = rest.join(' ');
  switch (scheme.toLowerCase()) {
    case 'bearer':
    case 'apikey':
      return value;
    case 'basic': {
      // The key is the user name; the password is empty.
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(0, colon) : decoded;
    }
    default:
      return '';
  }
}

/**
 * Authenticates requests, and limits failed attempts per client address.
 *
 * What the limit is for: a key's secret is 32 random base62 characters (about 190 bits), so
 * guessing one is hopeless with or without it. The limit keeps a flood of bad keys cheap: once an address is over the limit, a request
 * that cannot hold a valid key (none, or not well-formed, which covers any typo thanks to the
 * checksum) is refused with 429 before any database work. It is not there to punish an address:
 * behind a load balancer whose address is not in TRUSTED_PROXIES every client shares one
 * address, and 30 bad requests from anyone would otherwise lock every client out. So a
 * well-formed key is still looked up (from the key cache or one primary-key read, as for any
 * request) and a valid one is served; an invalid one is refused with 429 and counts again.
 */
export class Authenticator {
  readonly #failures: RateLimiterMemory;

  constructor(
    private readonly db: Db,
    failuresPerMinute: number,
    /** Mints and reads viewer tokens; the transports mint through it too. */
    readonly viewerTokens: ViewerTokens,
    /** Recently read key rows; evicted on every instance when a key or its tenant changes. */
    private readonly keys: KeyCache,
  ) {
    this.#failures = new RateLimiterMemory({ points: failuresPerMinute, duration: 60 });
  }

  /** The viewer for a request, or UnauthenticatedError / RateLimitedError. */
  async authenticate(headers: Headers, clientAddress: string): Promise<Viewer> {
    const key = presentedKey(headers);
    if (key !== undefined && isViewerToken(key)) return this.#authenticateToken(key, clientAddress);
    const parsed = key === undefined ? null : parseApiKey(key);
    const limited = await this.#overLimit(clientAddress);
    if (limited && !parsed) throw limited;
    if (key === undefined) {
      throw new UnauthenticatedError(
        'An API key is required: send "Authorization: Bearer <key>", "Authorization: apikey <key>" or "X-API-Key: <key>"',
      );
    }
    const stored = parsed ? await this.#findKey(parsed.id) : null;
    if (!parsed || !stored || !secretMatches(parsed.secret, stored.secretHash)) {
      await this.#fail(clientAddress);
      throw limited ?? new UnauthenticatedError('The API key is not valid');
    }
    if (stored.revokedAt) {
      await this.#fail(clientAddress);
      throw limited ?? new UnauthenticatedError('The API key has been revoked');
    }
    return {
      tenantId: stored.tenantId,
      tenantSlug: stored.tenantSlug,
      keyId: parsed.id,
      scopes: new Set(scopesOf(stored)),
      recordReads: stored.readLog,
    };
  }

  /**
   * A viewer token: checked by its MAC first (no database work for a forged one), then its
   * minting key is looked up like any API key (key cache, else one primary-key read), so revoking
   * the key ends every token it minted at the next request once the revocation's notification
   * has arrived. An authentic but expired token does not count as a failure: it is the normal
   * end of a browser session, not a guess.
   */
  async #authenticateToken(token: string, clientAddress: string): Promise<Viewer> {
    const claims = this.viewerTokens.read(token);
    const limited = await this.#overLimit(clientAddress);
    if (limited && !claims) throw limited;
    if (!claims) {
      await this.#fail(clientAddress);
      throw new UnauthenticatedError(
        'The viewer token is not valid: it is malformed, was altered, or was signed with another TOKEN_SECRET',
      );
    }
    if (this.viewerTokens.isExpired(claims.expiresAt)) {
      throw new UnauthenticatedError(
        `The viewer token expired at ${claims.expiresAt.toISOString()}; ask the backend that minted it for a new one`,
      );
    }
    const stored = await this.#findKey(claims.keyId);
    if (!stored || stored.tenantId !== claims.tenantId) {
      await this.#fail(clientAddress);
      throw limited ?? new UnauthenticatedError('The viewer token is not valid: its API key does not exist');
    }
    if (stored.revokedAt) {
      await this.#fail(clientAddress);
      throw limited ?? new UnauthenticatedError('The API key that minted this viewer token has been revoked');
    }
    const keyScopes = scopesOf(stored);
    return {
      tenantId: stored.tenantId,
      tenantSlug: stored.tenantSlug,
      keyId: claims.keyId,
      // Never more than the key has now, whatever the token says, and never the read log.
      scopes: new Set(claims.scopes.filter((s) => keyScopes.includes(s) && s !== 'read_log')),
      restriction: claims.restriction,
      token: { id: claims.tokenId, expiresAt: claims.expiresAt },
      recordReads: stored.readLog,
    };
  }

  /**
   * Throws UnauthenticatedError once a viewer authenticated earlier is no longer valid: its
   * token expired, or its key was revoked. For long-lived requests (streams) to call now and then.
   * It reads the database, never the cache, so a stream whose key was revoked ends within one
   * recheck interval even if the notification was lost (and the stale row is dropped then).
   */
  async recheck(viewer: Viewer): Promise<void> {
    if (viewer.token && this.viewerTokens.isExpired(viewer.token.expiresAt)) {
      throw new UnauthenticatedError(`The viewer token expired at ${viewer.token.expiresAt.toISOString()}`);
    }
    recordKeyLookup('database');
    const stored = await findApiKey(this.db, viewer.keyId);
    if (!stored || stored.revokedAt) {
      this.keys.evictKey(viewer.keyId);
      throw new UnauthenticatedError(
        viewer.token
          ? 'The API key that minted this viewer token has been revoked'
          : 'The API key has been revoked',
      );
    }
  }

  /** A key's row: from the cache when it holds a fresh one, else read (and kept). */
  async #findKey(keyId: string): Promise<StoredKey | null> {
    const cached = this.keys.get(keyId);
    if (cached) {
      recordKeyLookup('cache');
      return cached;
    }
    recordKeyLookup('database');
    return this.keys.load(keyId, () => findApiKey(this.db, keyId));
  }

  /** The refusal for an address that has used up its failures, or null while it has some left. */
  async #overLimit(clientAddress: string): Promise<RateLimitedError | null> {
    const state = await this.#failures.get(clientAddress);
    if (!state || state.remainingPoints > 0) return null;
    return new RateLimitedError(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
  }

  async #fail(clientAddress: string): Promise<void> {
    try {
      await this.#failures.consume(clientAddress);
    } catch (e) {
      if (e instanceof RateLimiterRes) return; // already over the limit; the next request is refused
      throw e;
    }
  }
}

function scopesOf(stored: StoredKey): Scope[] {
  return stored.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
}
