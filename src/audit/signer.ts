// Ed25519 signatures over chain statements (checkpoints of a tenant's head, prune anchors).
// The private key comes from configuration and never reaches the database; anyone holding the
// public key can check a statement offline.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import canonicalize from 'canonicalize';

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

export class ChainSigner {
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('SIGNING_KEY must be an Ed25519 private key');
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.keyId = publicKeyId(this.publicKey);
  }

  /** Accepts a PKCS#8 PEM, or the same DER in base64 (handy for one-line environment variables). */
  static fromConfig(text: string): ChainSigner {
    const trimmed = text.trim();
    const key = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey(trimmed)
      : createPrivateKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'pkcs8' });
    return new ChainSigner(key);
  }

  sign(fields: Omit<ChainStatement, 'v' | 'kid'>): SignedStatement {
    const parsed: ChainStatement = { v: 1, ...fields, kid: this.keyId };
    const statement = canonicalize(parsed) as string;
    const signature = sign(null, Buffer.from(statement, 'utf8'), this.#privateKey).toString('base64');
    return { statement, signature, parsed };
  }

  publicKeyPem(): string {
    return this.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  }

  /** The public key as a JSON Web Key Set, for /.well-known/audit-signing-keys.json. */
  jwks(): { keys: Record<string, string>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string };
    return { keys: [{ ...jwk, kid: this.keyId, alg: 'EdDSA', use: 'sig' }] };
  }
}

export function publicKeyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex')
    .slice(0, 16);
}

/** Checks a statement's signature with a public key; returns the statement or a reason. */
export function verifyStatement(
  publicKey: KeyObject,
  statement: string,
  signatureBase64: string,
): ChainStatement | string {
  let ok = false;
  try {
    ok = verify(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(signatureBase64, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) return 'signature does not verify with the given public key';
  try {
    const parsed = JSON.parse(statement) as ChainStatement;
    if (parsed.v !== 1 || typeof parsed.seq !== 'number' || typeof parsed.hash !== 'string') {
      return 'statement is not a chain checkpoint';
    }
    return parsed;
  } catch {
    return 'statement is not JSON';
  }
}
