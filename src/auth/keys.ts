// API key format: agw_<12-char id>_<32-char secret><6-char checksum>, all base62.
// The prefix and checksum make keys recognizable to secret scanners and let us refuse a mistyped
// key without a database lookup; only the SHA-256 of the secret is stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PATTERN = /^agw_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})([0-9A-Za-z]{6})$/;

// Scopes are the domain's vocabulary (what a viewer may do); keys only carry them.
export { SCOPES, type Scope } from '../audit/viewer.ts';

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function generateApiKey(): { key: string; id: string; secretHash: Buffer } {
  const id = randomBase62(12);
  const secret = randomBase62(32);
  return { key: formatApiKey(id, secret), id, secretHash: hashSecret(secret) };
}

/** The key of an id and a secret, with its checksum. */
export function formatApiKey(id: string, secret: string): string {
  const body = `agw_${id}_${secret}`;
  return `${body}${checksum(body)}`;
}

/** Splits a presented key into id and secret; null when it is not a well-formed key. */
export function parseApiKey(key: string): { id: string; secret: string } | null {
  const m = KEY_PATTERN.exec(key);
  if (!m) return null;
  const [, id, secret, sum] = m as unknown as [string, string, string, string];
  if (checksum(`agw_${id}_${secret}`) !== sum) return null;
  return { id, secret };
}

export function secretMatches(secret: string, storedHash: Uint8Array): boolean {
  const presented = hashSecret(secret);
  return storedHash.length === presented.length && timingSafeEqual(presented, storedHash);
}
