// Resolves the caller of a request from its API key: the tenant it acts for and its scopes.
// The tenant always comes from the key, never from anything else in the request.
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError, UnauthenticatedError } from '../audit/errors.ts';
import type { Viewer } from '../audit/viewer.ts';
import type { Db } from '../db/client.ts';
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
    const state = await this.#failures.get(clientAddress);
    if (state && state.remainingPoints <= 0) {
      throw new RateLimitedError(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
    }
    const key = presentedKey(headers);
    if (key === undefined) {
      throw new UnauthenticatedError(
        'An API key is required: send "Authorization: Bearer <key>", "Authorization: apikey <key>" or "X-API-Key: <key>"',
      );
    }
    const parsed = parseApiKey(key);
    const stored = parsed ? await findApiKey(this.db, parsed.id) : null;
    if (!parsed || !stored || !secretMatches(parsed.secret, stored.secretHash)) {
      await this.#fail(clientAddress);
      throw new UnauthenticatedError('The API key is not valid');
    }
    if (stored.revokedAt) {
      await this.#fail(clientAddress);
      throw new UnauthenticatedError('The API key has been revoked');
    }
    return {
      tenantId: stored.tenantId,
      tenantSlug: stored.tenantSlug,
      keyId: parsed.id,
      scopes: new Set(stored.scopes.filter((s): s is Scope => s === 'read' || s === 'write')),
    };
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
