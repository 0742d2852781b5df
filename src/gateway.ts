// Assembles a gateway from configuration: secrets, database, services, HTTP app. Used by
// `serve` and by the tests, which hand in their own configuration and database location.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ChainService } from './audit/chain-service.ts';
import { startCheckpointSweep } from './audit/checkpoint-sweep.ts';
import { ExportService } from './audit/export-service.ts';
import { ReadLog } from './audit/read-log.ts';
import { RetentionService } from './audit/retention.ts';
import { AuditService } from './audit/service.ts';
import { ChainSigner } from './audit/signer.ts';
import { TokenSigner } from './audit/tokens.ts';
import { operatorViewer } from './audit/viewer.ts';
import { createApiKey, createTenant, listTenants } from './auth/admin.ts';
import { Authenticator } from './auth/authenticate.ts';
import { KeyCache } from './auth/key-cache.ts';
import { ViewerTokens } from './auth/viewer-tokens.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/client.ts';
import { demoEvents } from './demo/events.ts';
import { recordDemoEvents, type SeedProgress } from './demo/seed.ts';
import { type App, createApp } from './http/app.ts';
import { startTracing } from './http/tracing.ts';
import { resolveSecrets } from './secrets.ts';
import { LogStreamService } from './streams/service.ts';
import { LogStreamWorker } from './streams/worker.ts';

export type Gateway = {
  app: App;
  database: Database;
  audit: AuditService;
  chain: ChainService;
  exports: ExportService;
  signer: ChainSigner;
  streams: LogStreamService;
  /** Retention policies, legal holds and the job that applies them (docs/retention.md). */
  retention: RetentionService;
  /** Records every read (who read the trail); `flush()` writes what is queued. */
  readLog: ReadLog;
  /** Delivers log streams; absent when LOG_STREAMS=false. */
  streamWorker: LogStreamWorker | undefined;
  /** Set when this start created or found the demo tenant's key (embedded database only). */
  demoApiKey: string | undefined;
  /** Ends every open live tail (the first step of a graceful shutdown: they never finish alone). */
  endStreams(): Promise<void>;
  close(): Promise<void>;
};

export type GatewayOptions = {
  config: Config;
  logger: Logger;
  /** Tests count SQL statements through this. */
  onQuery?: (query: string) => void;
  /** Told how far the first start's demo seeding got (`serve` draws it on a terminal). */
  onDemoProgress?: SeedProgress;
  /** Sign quiet tenants' heads in the background until close (`serve`; one-shot commands do not). */
  sweepCheckpoints?: boolean;
  /** Apply retention policies every RETENTION_INTERVAL_SECONDS until close (`serve`). */
  applyRetention?: boolean;
};

export async function openGateway({
  config,
  logger,
  onQuery,
  onDemoProgress,
  sweepCheckpoints = false,
  applyRetention = false,
}: GatewayOptions): Promise<Gateway> {
  const tracing = config.otlpEndpoint
    ? await startTracing(config.otlpEndpoint, config.serviceName)
    : undefined;
  const secrets = resolveSecrets(config, logger);
  const signer = ChainSigner.fromConfig(secrets.signingKey, secrets.previousSigningKeys);
  const database = await openDatabase({
    url: config.databaseUrl,
    migrationUrl: config.migrationDatabaseUrl,
    dataDir: config.dataDir,
    poolSize: config.poolSize,
    replicas: config.replicas,
    pipeline: config.pipeline,
    migrate: config.migrateOnStart,
    onQuery,
    onBackgroundError: (error, what) => logger.warn({ err: error }, `database: ${what} failed`),
  });
  try {
    const streamWorker = config.logStreams.enabled
      ? new LogStreamWorker({ db: database.db, logger, ...config.logStreams })
      : undefined;
    const streams = new LogStreamService(database.db, () => streamWorker?.wake());
    const tokens = new TokenSigner(secrets.tokenSecrets);
    const readLog = new ReadLog({ db: database.db, tokens, logger, ...config.readLog });
    const chain: ChainService = new ChainService({
      db: database.db,
      signer,
      policy: {
        everyEvents: config.checkpointEveryEvents,
        intervalSeconds: config.checkpointIntervalSeconds,
      },
      recordEvent: (...args) => audit.recordEvent(...args),
      readLog,
    });
    const keyCache = new KeyCache(config.authCache);
    const authenticator = new Authenticator(
      database.db,
      config.authFailuresPerMinute,
      new ViewerTokens(new TokenSigner(secrets.tokenSecrets)),
      keyCache,
    );
    const audit = new AuditService({
      db: database.db,
      tokens,
      chain,
      onCommitted: () => streamWorker?.nudge(),
      searchTimeoutMs: config.searchTimeoutMs,
      readLog,
      // On Postgres, live tails of every instance wake on NOTIFY; PGlite has only this process.
      notifyCommits: database.kind === 'postgres',
      liveTail: {
        ...config.liveTail,
        recheck: (viewer) => authenticator.recheck(viewer),
        onReadError: (error) =>
          logger.warn({ err: error }, 'live tail: read failed; retrying at the next poll'),
      },
    });
    const retention = new RetentionService({
      database,
      chain,
      recordEvent: (...args) => audit.recordEvent(...args),
      defaultPeriod: config.retention.defaultPeriod,
      tenants: () => listTenants(database),
      logger,
    });
    const exports = new ExportService({
      db: database.db,
      signer,
      tokens,
      chain,
      readLog,
      searchTimeoutMs: config.searchTimeoutMs,
    });
    await refuseForeignDevelopmentKey(database, chain, signer, secrets.signingKeyFile);
    // PGlite's live tails are woken in-process after each local commit; only Postgres needs NOTIFY.
    await audit.liveTail.listen(database.kind === 'postgres' ? database.listen : undefined);
    // Key and tenant changes (Database.notify) from every instance, on both drivers: see key-cache.ts.
    await keyCache.listen(database.listen);
    const demoApiKey =
      !config.databaseUrl && config.demoSeed
        ? await ensureDemo(database, audit, config, logger, onDemoProgress)
        : undefined;
    const app = createApp({
      database,
      audit,
      chain,
      exports,
      streams,
      readLog,
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
        corsOrigins: config.corsOrigins,
        sseHeartbeatMs: config.liveTail.heartbeatMs,
        demoApiKey,
        metrics: { enabled: config.metricsEnabled, token: config.metricsToken, poolSize: config.poolSize },
      },
    });
    const sweep = sweepCheckpoints
      ? startCheckpointSweep({
          chain,
          tenantIds: async () => (await listTenants(database)).map((t) => t.id),
          intervalSeconds: config.checkpointIntervalSeconds,
          logger,
          exclusive: (sweep) => database.exclusive('checkpoint-sweep', sweep),
        })
      : undefined;
    if (applyRetention) {
      // This month's partition and the next ones, before the first event (the job keeps it up).
      await retention
        .ensurePartitions()
        .catch((err: unknown) => logger.warn({ err }, 'partitions: could not create the coming months'));
    }
    const retentionJob = applyRetention ? retention.start(config.retention.intervalSeconds) : undefined;
    streamWorker?.start();
    return {
      app,
      database,
      audit,
      chain,
      exports,
      signer,
      streams,
      retention,
      readLog,
      streamWorker,
      demoApiKey,
      endStreams: () => audit.liveTail.close(),
      close: async () => {
        await audit.liveTail.close();
        await keyCache.close();
        sweep?.stop();
        await retentionJob?.stop();
        await audit.drain();
        await readLog.close();
        await streamWorker?.stop();
        await database.close();
        await tracing?.shutdown();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * A development key generated under DATA_DIR on a database whose checkpoints another key signed
 * (say SIGNING_KEY was set before and is not now) would make every verification fail on those
 * checkpoints: refuse to start and say what to set. A configured key is the operator's choice
 * (statements it cannot check are reported as signed by an unknown key), and checking costs a
 * query per tenant, so only the development key is checked.
 */
async function refuseForeignDevelopmentKey(
  database: Database,
  chain: ChainService,
  signer: ChainSigner,
  signingKeyFile: string | undefined,
) {
  if (signingKeyFile === undefined) return;
  const tenantIds = (await listTenants(database)).map((t) => t.id);
  const foreign = await chain.foreignSigningKeyIds(tenantIds);
  if (foreign.length === 0) return;
  throw new Error(
    `the database holds checkpoints signed by key ${foreign.join(', ')}, but SIGNING_KEY is not set and the development key in ${signingKeyFile} (key ${signer.keyId}) is another one. ` +
      'Set SIGNING_KEY to the key that signed them (or, if it was rotated, add its public key to SIGNING_KEY_PREVIOUS).',
  );
}

/**
 * On an empty embedded database: a `demo` tenant with realistic events and a read/write key,
 * so GraphiQL works at once. The key is kept in DATA_DIR (demo only) to be shown again.
 *
 * The key is made and written before any event, and the seeding is marked done only at its end,
 * so a first start interrupted while seeding (Ctrl-C during the progress line) leaves a key to
 * show, and the next start records the events still missing instead of serving a demo tenant
 * nobody can log in to. Once the marker is written, a start costs no count of the demo's events.
 */
async function ensureDemo(
  database: Database,
  audit: AuditService,
  config: Config,
  logger: Logger,
  onProgress: SeedProgress | undefined,
) {
  const keyFile = path.resolve(config.dataDir, 'demo-api-key');
  const seededMarker = path.resolve(config.dataDir, 'demo-seeded');
  const tenants = await listTenants(database);
  const existing = tenants.find((t) => t.slug === 'demo');
  const keyFileExists = existsSync(keyFile);
  // Ours: a demo tenant with our key file, or alone (a start interrupted before the file was
  // written). Other tenants, and no demo or a `demo` without our file: the user's database.
  const ours = tenants.length === 0 || (existing && (keyFileExists || tenants.length === 1));
  if (!ours) return undefined;
  const tenant = existing ?? (await createTenant(database, 'demo'));
  // A key file left from an earlier database (its tenant just created) names no key of this one.
  let key = existing && keyFileExists ? readFileSync(keyFile, 'utf8').trim() : undefined;
  if (key === undefined) {
    key = (await createApiKey(database, 'demo', ['read', 'write', 'read_log'], 'demo key (printed at start)'))
      .key;
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  }
  if (existsSync(seededMarker)) return key;
  const viewer = operatorViewer(tenant);
  const missing = existing ? config.demoEvents - (await audit.countEvents(viewer, {})) : config.demoEvents;
  if (missing > 0) {
    const events = demoEvents({ count: missing, seed: 2024, now: new Date(), spanDays: 90 });
    await recordDemoEvents(audit, viewer, events, missing, onProgress);
    logger.info(
      { tenant: 'demo', events: missing },
      existing ? 'finished seeding the demo tenant' : 'created the demo tenant',
    );
  }
  writeFileSync(seededMarker, `${new Date().toISOString()}\n`);
  return key;
}
