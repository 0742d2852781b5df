// Assembles a gateway from configuration: secrets, database, services, HTTP app. Used by
// `serve` and by the tests, which hand in their own configuration and database location.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { type App, createApp } from './app.ts';
import { ChainService } from './audit/chain-service.ts';
import { AuditService } from './audit/service.ts';
import { ChainSigner } from './audit/signer.ts';
import { TokenSigner } from './audit/tokens.ts';
import { createApiKey, createTenant, listTenants } from './auth/admin.ts';
import { Authenticator } from './auth/authenticate.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { demoEvents } from './demo/events.ts';
import { recordDemoEvents, type SeedProgress } from './demo/seed.ts';
import { resolveSecrets } from './secrets.ts';

export type Gateway = {
  app: App;
  database: Database;
  audit: AuditService;
  chain: ChainService;
  signer: ChainSigner;
  /** Set when this start created or found the demo tenant's key (embedded database only). */
  demoApiKey: string | undefined;
  close(): Promise<void>;
};

export type GatewayOptions = {
  config: Config;
  logger: Logger;
  /** Tests count SQL statements through this. */
  onQuery?: (query: string) => void;
  /** Told how far the first start's demo seeding got (`serve` draws it on a terminal). */
  onDemoProgress?: SeedProgress;
};

export async function openGateway({
  config,
  logger,
  onQuery,
  onDemoProgress,
}: GatewayOptions): Promise<Gateway> {
  const secrets = resolveSecrets(config, logger);
  const signer = ChainSigner.fromConfig(secrets.signingKey);
  const database = await openDatabase({
    url: config.databaseUrl,
    migrationUrl: config.migrationDatabaseUrl,
    dataDir: config.dataDir,
    poolSize: config.poolSize,
    migrate: config.migrateOnStart,
    onQuery,
  });
  try {
    const audit = new AuditService({
      db: database.db,
      tokens: new TokenSigner(secrets.tokenSecrets),
      signer,
      checkpointEveryEvents: config.checkpointEveryEvents,
      checkpointIntervalSeconds: config.checkpointIntervalSeconds,
    });
    const chain = new ChainService(database.db, signer, audit);
    const authenticator = new Authenticator(database.db, config.authFailuresPerMinute);
    const demoApiKey =
      !config.databaseUrl && config.demoSeed
        ? await ensureDemo(database, audit, config, logger, onDemoProgress)
        : undefined;
    const app = createApp({
      database,
      audit,
      chain,
      authenticator,
      signer,
      logger,
      options: {
        production: config.env === 'production',
        graphiql: config.graphiql,
        introspection: config.introspection,
        bodyLimitBytes: config.bodyLimitBytes,
        trustedProxies: config.trustedProxies,
        madkuduRetentionMonths: config.madkuduRetentionMonths,
        demoApiKey,
      },
    });
    return {
      app,
      database,
      audit,
      chain,
      signer,
      demoApiKey,
      close: async () => {
        await audit.drain();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * On an empty embedded database: a `demo` tenant with realistic events and a read/write key,
 * so GraphiQL works at once. The key is kept in DATA_DIR (demo only) to be shown again.
 */
async function ensureDemo(
  database: Database,
  audit: AuditService,
  config: Config,
  logger: Logger,
  onProgress: SeedProgress | undefined,
) {
  const keyFile = path.resolve(config.dataDir, 'demo-api-key');
  const tenants = await listTenants(database);
  if (tenants.length > 0) {
    return existsSync(keyFile) && tenants.some((t) => t.slug === 'demo')
      ? readFileSync(keyFile, 'utf8').trim()
      : undefined;
  }
  const tenant = await createTenant(database, 'demo');
  const events = demoEvents({ count: config.demoEvents, seed: 2024, now: new Date(), spanDays: 90 });
  await recordDemoEvents(audit, tenant.id, events, config.demoEvents, onProgress);
  const { key } = await createApiKey(database, 'demo', ['read', 'write'], 'demo key (printed at start)');
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  logger.info({ tenant: 'demo', events: config.demoEvents }, 'created the demo tenant');
  return key;
}
