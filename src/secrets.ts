// Secrets for development: when TOKEN_SECRET or SIGNING_KEY is not configured (never in
// production, where config.ts requires them), generate them once under DATA_DIR so cursors and
// checkpoints stay valid across restarts. They are files, never rows in the database.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.ts';

export type Secrets = { tokenSecrets: string[]; signingKey: string };

function readOrCreate(file: string, create: () => string, logger: Logger, what: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = create();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.warn({ file }, `${what} is not configured; generated one for development`);
  return value;
}

export function resolveSecrets(config: Config, logger: Logger): Secrets {
  const dir = path.resolve(config.dataDir, 'secrets');
  const tokenSecrets = config.tokenSecrets ?? [
    readOrCreate(
      path.join(dir, 'token-secret'),
      () => randomBytes(32).toString('base64url'),
      logger,
      'TOKEN_SECRET',
    ),
  ];
  const signingKey =
    config.signingKey ??
    readOrCreate(
      path.join(dir, 'signing-key.pem'),
      () =>
        generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString().trim(),
      logger,
      'SIGNING_KEY',
    );
  return { tokenSecrets, signingKey };
}
