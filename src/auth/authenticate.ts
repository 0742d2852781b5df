// Resolves the caller of a request from its API key: the tenant it acts for and its scopes.
// The tenant always comes from the key, never from anything else in the request.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Viewer } from '../audit/viewer.ts';
import type { Db } from '../db/client.ts';
import { RateLimitedError, UnauthenticatedError } from '../errors.ts';
import { parseApiKey, type Scope, secretMatches } from './keys.ts';
import { findApiKey } from './repository.ts';

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
 * well-formed key is still looked up (one primary-key read, as for any request) and a valid
 * one is served; an invalid one is refused with 429 and counts again.
 */
export class Authenticator {
  readonly #failures: RateLimiterMemory;

  constructor(
    private readonly db: Db,
    failuresPerMinute: number,
  ) {
    this.#failures = new RateLimiterMemory({ points: failuresPerMinute, duration: 60 });
  }

  /** The viewer for a request, or UnauthenticatedError / RateLimitedError. */
  async authenticate(headers: Headers, clientAddress: string): Promise<Viewer> {
    const key = presentedKey(headers);
    const parsed = key === undefined ? null : parseApiKey(key);
    const limited = await this.#overLimit(clientAddress);
    if (limited && !parsed) throw limited;
    if (key === undefined) {
      throw new UnauthenticatedError(
        'An API key is required: send "Authorization: Bearer <key>", "Authorization: apikey <key>" or "X-API-Key: <key>"',
      );
    }
    const stored = parsed ? await findApiKey(this.db, parsed.id) : null;
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
      scopes: new Set(stored.scopes.filter((s): s is Scope => s === 'read' || s === 'write')),
    };
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
