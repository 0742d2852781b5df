// Ed25519 signatures over chain statements (checkpoints of a tenant's head, prune anchors).
// The private key comes from configuration and never reaches the database; anyone holding the
// public key can check a statement offline. Keys rotate: a statement names the key that signed it
// (`kid`), and a key ring holds the current key and every retired public key, so statements signed
// before a rotation still verify and a statement signed by a key the ring lacks says so instead
// of looking tampered.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { ExportStatement } from './export-format.ts';

export type StatementKind = 'checkpoint' | 'anchor';

/** What a checkpoint or anchor asserts: the tenant's chain had this hash at this sequence. */
export type ChainStatement = {
  v: 1;
  type: StatementKind;
  tenant: number;
  seq: number;
  hash: string;
  time: string;
  kid: string;
};

export type SignedStatement = { statement: string; signature: string; parsed: ChainStatement };

/** Public keys by key id: the keys whose signatures a verifier accepts. */
export class KeyRing {
  readonly #keys = new Map<string, KeyObject>();

  constructor(keys: KeyObject[]) {
    for (const key of keys) {
      const publicKey = key.type === 'private' ? createPublicKey(key) : key;
      if (publicKey.asymmetricKeyType !== 'ed25519') throw new Error('signing keys must be Ed25519 keys');
      this.#keys.set(publicKeyId(publicKey), publicKey);
    }
  }

  /** Every key found in a text: PEM blocks, a JSON Web Key Set, or base64 DER separated by commas or spaces. */
  static parse(text: string): KeyRing {
    return new KeyRing(parseKeys(text));
  }

  get(keyId: string): KeyObject | undefined {
    return this.#keys.get(keyId);
  }

  /** Key ids, in the order the keys were given (the current key first). */
  ids(): string[] {
    return [...this.#keys.keys()];
  }

  get size(): number {
    return this.#keys.size;
  }

  /** Every public key as PEM, concatenated; the first one is the current key. */
  pem(): string {
    return [...this.#keys.values()].map((k) => k.export({ format: 'pem', type: 'spki' }).toString()).join('');
  }

  /** Every public key as a JSON Web Key Set, for /.well-known/audit-signing-keys.json. */
  jwks(): { keys: Record<string, string>[] } {
    return {
      keys: [...this.#keys].map(([kid, key]) => {
        const jwk = key.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
        return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
      }),
    };
  }
}

export class ChainSigner {
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The current key and the retired ones: what this gateway's statements verify with. */
  readonly ring: KeyRing;

  constructor(privateKey: KeyObject, retired: KeyObject[] = []) {
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('SIGNING_KEY must be an Ed25519 private key');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.keyId = publicKeyId(this.publicKey);
    this.ring = new KeyRing([this.publicKey, ...retired]);
  }

  /**
   * Accepts a PKCS#8 PEM, or the same DER in base64 (handy for one-line environment variables),
   * and the retired keys (public or private, in any form `KeyRing.parse` reads).
   */
  static fromConfig(text: string, retired: string[] = []): ChainSigner {
    const trimmed = text.trim();
    const key = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey(trimmed)
      : createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' });
    const retiredKeys = retired.flatMap((text) => {
      try {
        return parseKeys(text);
      } catch (error) {
        throw new Error(
          `SIGNING_KEY_PREVIOUS: not Ed25519 keys (PEM blocks, or base64 DER separated by commas): ${(error as Error).message}`,
        );
      }
    });
    return new ChainSigner(key, retiredKeys);
  }

  sign(fields: Omit<ChainStatement, 'v' | 'kid'>): SignedStatement {
    const parsed: ChainStatement = { v: 1, ...fields, kid: this.keyId };
    return { ...this.#signCanonical(parsed), parsed };
  }

  /** The closing statement of a filtered export (`type: export`, never a checkpoint or anchor). */
  signExport(fields: Omit<ExportStatement, 'v' | 'type' | 'kid'>): { statement: string; signature: string } {
    return this.#signCanonical({
      v: 1,
      type: 'export',
      ...fields,
      kid: this.keyId,
    } satisfies ExportStatement);
  }

  #signCanonical(value: object): { statement: string; signature: string } {
    const statement = canonicalize(value) as string;
    const signature = sign(null, Buffer.from(statement, 'utf8'), this.#privateKey).toString('base64');
    return { statement, signature };
  }

  /** Every public key of the ring as PEM, the current one first (a reader of one PEM gets the current key). */
  publicKeyPem(): string {
    return this.ring.pem();
  }

  jwks(): { keys: Record<string, string>[] } {
    return this.ring.jwks();
  }
}

export function publicKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);
}

function parseKeys(text: string): KeyObject[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('{')) {
    const set = JSON.parse(trimmed) as { keys?: unknown };
    if (!Array.isArray(set.keys)) throw new Error('a JSON key set must have a "keys" array');
    return set.keys.map((jwk) => createPublicKey({ key: jwk as never, format: 'jwk' }));
  }
  const blocks = trimmed.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g);
  if (blocks) {
    return blocks.map((block) =>
      block.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(block)) : createPublicKey(block),
    );
  }
  return trimmed.split(/[\s,]+/).map((b64) => {
    const der = Buffer.from(b64, 'base64');
    try {
      return createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch {
      return createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    }
  });
}

/** How one signed statement fared against a key ring. */
export type StatementCheck =
  | { ok: true; statement: ChainStatement }
  | {
      ok: false;
      /** Set when the statement names a key the ring does not hold: not a failed signature. */
      unknownKey: string | null;
      /** What the statement claims, unverified, when it parses at all. */
      claimed: ChainStatement | null;
      reason: string;
    };

/** Checks a statement's signature with the key its `kid` names. */
export function checkStatement(ring: KeyRing, statement: string, signatureBase64: string): StatementCheck {
  let claimed: ChainStatement;
  try {
    claimed = JSON.parse(statement) as ChainStatement;
  } catch {
    return { ok: false, unknownKey: null, claimed: null, reason: 'statement is not JSON' };
  }
  if (
    typeof claimed !== 'object' ||
    claimed === null ||
    claimed.v !== 1 ||
    typeof claimed.seq !== 'number' ||
    typeof claimed.hash !== 'string' ||
    typeof claimed.kid !== 'string'
  ) {
    return { ok: false, unknownKey: null, claimed: null, reason: 'statement is not a chain checkpoint' };
  }
  const key = ring.get(claimed.kid);
  if (!key) {
    return {
      ok: false,
      unknownKey: claimed.kid,
      claimed,
      reason: `signed by an unknown key ${claimed.kid}`,
    };
  }
  let ok = false;
  try {
    ok = verify(null, Buffer.from(statement, 'utf8'), key, Buffer.from(signatureBase64, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok)
    return {
      ok: false,
      unknownKey: null,
      claimed,
      reason: `signature does not verify with key ${claimed.kid}`,
    };
  return { ok: true, statement: claimed };
}
