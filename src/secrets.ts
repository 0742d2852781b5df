// Secrets for development: when TOKEN_SECRET or SIGNING_KEY is not configured (never in
// production, where config.ts requires them), generate them once under DATA_DIR so cursors and
// checkpoints stay valid across restarts. They are files, never rows in the database. Also the
// rotation of the signing key, for the development files and for configured keys.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ChainSigner } from './audit/signer.ts';
import type { Config } from './config.ts';

export type Secrets = {
  tokenSecrets: string[];
  signingKey: string;
  /** Retired signing keys (public or private, any form the key ring reads): old statements verify with them. */
  previousSigningKeys: string[];
  /** Set when the signing key is the development key from DATA_DIR rather than SIGNING_KEY. */
  signingKeyFile: string | undefined;
};

function readOrCreate(file: string, create: () => string, logger: Logger, what: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = create();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.warn({ file }, `${what} is not configured; generated one for development`);
  return value;
}

const newSigningKey = () =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim();

function secretFiles(config: Config) {
  const dir = path.resolve(config.dataDir, 'secrets');
  return {
    dir,
    tokenSecret: path.join(dir, 'token-secret'),
    signingKey: path.join(dir, 'signing-key.pem'),
    /** Public keys of development signing keys retired by `keys rotate-signing`. */
    previousSigningKeys: path.join(dir, 'previous-signing-keys.pem'),
  };
}

export function resolveSecrets(config: Config, logger: Logger): Secrets {
  const files = secretFiles(config);
  const tokenSecrets = config.tokenSecrets ?? [
    readOrCreate(files.tokenSecret, () => randomBytes(32).toString('base64url'), logger, 'TOKEN_SECRET'),
  ];
  const signingKey =
    config.signingKey ?? readOrCreate(files.signingKey, newSigningKey, logger, 'SIGNING_KEY');
  const previousSigningKeys = [
    ...(config.previousSigningKeys ? [config.previousSigningKeys] : []),
    ...(existsSync(files.previousSigningKeys) ? [readFileSync(files.previousSigningKeys, 'utf8')] : []),
  ];
  return {
    tokenSecrets,
    signingKey,
    previousSigningKeys,
    signingKeyFile: config.signingKey ? undefined : files.signingKey,
  };
}

export type SigningKeyRotation = {
  retiredKeyId: string;
  newKeyId: string;
  /** Where the new key went; absent when SIGNING_KEY is configured and the operator must set it. */
  writtenTo: string | undefined;
  /** For a configured key: the values to set, since the environment is not ours to change. */
  environment: { SIGNING_KEY: string; SIGNING_KEY_PREVIOUS: string } | undefined;
};

/**
 * Makes a new signing key and retires the current one: its public key joins the retired keys, so
 * every statement it signed still verifies. With the development key under DATA_DIR the files are
 * rewritten; with SIGNING_KEY configured, the new values are returned for the operator to set.
 */
export function rotateSigningKey(config: Config): SigningKeyRotation {
  const files = secretFiles(config);
  const currentText =
    config.signingKey ?? (existsSync(files.signingKey) ? readFileSync(files.signingKey, 'utf8') : undefined);
  if (!currentText)
    throw new Error(
      `there is no signing key to rotate: SIGNING_KEY is not set and ${files.signingKey} does not exist`,
    );
  const current = ChainSigner.fromConfig(currentText);
  const next = newSigningKey();
  const newKeyId = ChainSigner.fromConfig(next).keyId;
  const retiredPem = current.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  if (config.signingKey) {
    return {
      retiredKeyId: current.keyId,
      newKeyId,
      writtenTo: undefined,
      environment: {
        SIGNING_KEY: next,
        SIGNING_KEY_PREVIOUS:
          `${config.previousSigningKeys ? `${config.previousSigningKeys.trim()}\n` : ''}${retiredPem}`.trim(),
      },
    };
  }
  appendFileSync(files.previousSigningKeys, retiredPem, { mode: 0o600 });
  writeFileSync(files.signingKey, `${next}\n`, { mode: 0o600 });
  chmodSync(files.signingKey, 0o600);
  return { retiredKeyId: current.keyId, newKeyId, writtenTo: files.signingKey, environment: undefined };
}
