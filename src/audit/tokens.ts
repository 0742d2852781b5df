// Opaque, signed paging tokens (GraphQL cursors, continuation tokens such as Mural's nextToken,
// live tail stream positions; src/audit/cursors.ts makes and reads them). The payload is readable
// base64url JSON, but an HMAC over (purpose, tenant, payload) with the server secret means it
// cannot be edited, forged, truncated or replayed by another tenant.
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAC_BYTES = 16;

/** What a token is for; a token signed for one purpose does not verify for another. `mural` is
 * the name continuation tokens were signed under before; it is only read, never signed. */
export type TokenPurpose = 'cursor' | 'continuation' | 'mural' | 'viewer' | 'stream';

export class TokenSigner {
  readonly #secrets: string[];

  /** The first secret signs; every one verifies, so a secret can be rotated without breaking tokens in flight. */
  constructor(secrets: string[]) {
    if (secrets.length === 0) throw new Error('TokenSigner needs at least one secret');
    this.#secrets = secrets;
  }

  sign(purpose: TokenPurpose, tenantId: number, payload: unknown): string {
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    // biome-ignore lint/style/noNonNullAssertion: the constructor guarantees one secret
    return `${body}.${mac(this.#secrets[0]!, purpose, tenantId, body).toString('base64url')}`;
  }

  /** The payload, or null when the token is malformed, altered, or not this tenant's. */
  verify(purpose: TokenPurpose, tenantId: number, token: string): unknown {
    if (token.length > 4096) return null;
    const dot = token.indexOf('.');
    if (dot <= 0) return null;
    const body = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    if (given.length !== MAC_BYTES || given.toString('base64url') !== token.slice(dot + 1)) return null;
    const valid = this.#secrets.some((s) => timingSafeEqual(given, mac(s, purpose, tenantId, body)));
    if (!valid) return null;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
  }
}

function mac(secret: string, purpose: TokenPurpose, tenantId: number, body: string): Buffer {
  return createHmac('sha256', secret)
    .update(`${purpose}\n${tenantId}\n${body}`)
    .digest()
    .subarray(0, MAC_BYTES);
}
