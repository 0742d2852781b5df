#!/usr/bin/env node
// The `audit-gateway` command. The only module with side effects at import: it reads the
// environment (and a .env file) once, then runs one subcommand (`serve` when none is given).
// Everything heavy (database drivers, the GraphQL schema) is imported by the command that needs
// it, so `--help` and `secrets` start at once.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import module from 'node:module';
import { parseEnv } from 'node:util';
import { Command, InvalidArgumentError } from 'commander';
import {
  EXIT_STATUS,
  type SignedStatementText,
  summarizeVerification,
  type VerificationResult,
  type VerificationStatus,
} from './audit/verify.ts';
import { operatorViewer } from './audit/viewer.ts';
import {
  databaseSource,
  describeDatabase,
  EnvFileError,
  type Environment,
  embeddedDatabaseWarnings,
  readEnvironment,
} from './cli/environment.ts';
import { CONFIG_VARIABLES, type Config, ConfigError, loadConfig } from './config.ts';
import type { Database } from './db/client.ts';
import type { Gateway } from './gateway.ts';

// Node 22.1 and later keep the compiled code of the modules a command loads (the lazy imports
// below) in a cache, so the next start parses less; Node 20 has no such cache and skips this.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** What the environment variables mean, for each command's help. */
const VARIABLES: Record<string, string> = {
  DATABASE_URL: 'Postgres URL (postgres://user:password@host:5432/db); unset: embedded PGlite in DATA_DIR',
  DATABASE_MIGRATION_URL: 'owner connection for migrations and prune (default: DATABASE_URL)',
  DATA_DIR: 'embedded database and development secrets (default ./.data)',
  TOKEN_SECRET: 'HMAC secret for cursors, 32+ characters; unset outside production: kept in DATA_DIR',
  SIGNING_KEY: 'Ed25519 key signing checkpoints: PEM, base64 or a PEM file; unset: kept in DATA_DIR',
  NODE_ENV: 'production requires DATABASE_URL, TOKEN_SECRET and SIGNING_KEY',
  LOG_LEVEL: 'fatal, error, warn, info (default), debug, trace or silent',
};
const DATABASE_VARIABLES = ['DATABASE_URL', 'DATABASE_MIGRATION_URL', 'DATA_DIR'];
const GATEWAY_VARIABLES = [...DATABASE_VARIABLES, 'TOKEN_SECRET', 'SIGNING_KEY'];

function environmentHelp(names: readonly string[]): string {
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(width)}  ${VARIABLES[n] ?? 'see the README'}`.trimEnd());
  return `\nEnvironment (also read from ./.env, or the file named by --dotenv or DOTENV_FILE):\n${lines.join('\n')}\n`;
}

type Settings = { config: Config; environment: Environment };

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** The environment and configuration, or exit 2 with every problem named. */
function settings(): Settings {
  const { dotenv } = program.opts<{ dotenv?: string | false }>();
  let environment: Environment;
  try {
    environment = readEnvironment(dotenv);
  } catch (error) {
    if (error instanceof EnvFileError) fail(`error: ${error.message}`);
    throw error;
  }
  try {
    return { config: loadConfig(environment.values), environment };
  } catch (error) {
    if (error instanceof ConfigError) {
      const secretsHint = error.problems.some((p) => /^(TOKEN_SECRET|SIGNING_KEY)/.test(p))
        ? '\nRun `audit-gateway secrets` to make a TOKEN_SECRET and SIGNING_KEY.'
        : '';
      fail(`${error.message}${environment.envFile ? `\n(read ${environment.envFile})` : ''}${secretsHint}`);
    }
    throw error;
  }
}

/**
 * Says on stderr which database this command opens, and warns when the embedded one looks
 * unintended, before anything is written to it.
 */
function announceDatabase({ config, environment }: Settings, createsDatabase: 'expected' | 'unexpected') {
  process.stderr.write(
    `audit-gateway: database: ${describeDatabase(config)} (${databaseSource(environment)})\n`,
  );
  for (const warning of embeddedDatabaseWarnings(config, environment, { createsDatabase })) {
    process.stderr.write(`audit-gateway: warning: ${warning}\n`);
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

async function withDatabase<T>(
  fn: (db: Database, cfg: Config) => Promise<T>,
  createsDatabase: 'expected' | 'unexpected' = 'unexpected',
): Promise<T> {
  const current = settings();
  announceDatabase(current, createsDatabase);
  const { openDatabase } = await import('./db/client.ts');
  const cfg = current.config;
  const database = await openDatabase({
    url: cfg.databaseUrl,
    migrationUrl: cfg.migrationDatabaseUrl,
    dataDir: cfg.dataDir,
    poolSize: 2,
  });
  try {
    return await fn(database, cfg);
  } finally {
    await database.close();
  }
}

/** Opens a gateway (database, services, signing key) for one CLI command, without demo data. */
async function withGateway<T>(fn: (gateway: Gateway) => Promise<T>): Promise<T> {
  const current = settings();
  announceDatabase(current, 'unexpected');
  const [{ openGateway }, { createLogger }] = await Promise.all([
    import('./gateway.ts'),
    import('./logger.ts'),
  ]);
  const gateway = await openGateway({
    // A one-off command does not deliver log streams; the running gateways do.
    config: {
      ...current.config,
      demoSeed: false,
      logStreams: { ...current.config.logStreams, enabled: false },
    },
    logger: createLogger('warn'),
  });
  try {
    return await fn(gateway);
  } finally {
    await gateway.close();
  }
}

async function tenantOf(database: Database, slug: string) {
  const [{ findTenantBySlug }, { NotFoundError }] = await Promise.all([
    import('./auth/admin.ts'),
    import('./audit/errors.ts'),
  ]);
  const tenant = await findTenantBySlug(database, slug);
  if (!tenant) throw new NotFoundError(`Tenant "${slug}"`);
  return tenant;
}

function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

const program = new Command('audit-gateway')
  .description('GraphQL audit gateway with MadKudu, Mural, Wasabi AiR and Replicated REST compatibility')
  .version(version, '-V, --version')
  // Not --env-file: Node 20 takes that flag for itself wherever it appears on the command line.
  .option('--dotenv <path>', 'read settings from this file (default: $DOTENV_FILE, else ./.env if it exists)')
  .option('--no-dotenv', 'read no env file, only the environment')
  .showHelpAfterError()
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES));

program
  .command('serve')
  .description('run the HTTP server (GraphQL at /graphql, REST dialects, health checks); the default')
  .addHelpText('after', environmentHelp(CONFIG_VARIABLES))
  .action(async () => {
    const current = settings();
    const cfg = current.config;
    const [{ openGateway }, { listen }, { createLogger }, { terminalProgress }] = await Promise.all([
      import('./gateway.ts'),
      import('./server.ts'),
      import('./logger.ts'),
      import('./demo/seed.ts'),
    ]);
    announceDatabase(current, 'expected');
    const logger = createLogger(cfg.logLevel);
    const gateway = await openGateway({
      config: cfg,
      logger,
      onDemoProgress: terminalProgress('seeding demo events'),
    });
    const running = await listen(gateway, cfg, logger);
    const where = describeDatabase(cfg);
    logger.info({ url: running.url, database: where }, 'audit gateway listening');
    const lines = [
      '',
      `  Audit gateway on ${running.url}  (${where})`,
      cfg.graphiql ? `  GraphiQL:  ${running.url}/graphql` : '  GraphiQL:  off',
      `  OpenAPI:   ${running.url}/openapi.json`,
    ];
    if (gateway.demoApiKey) {
      lines.push(
        `  Demo key:  ${gateway.demoApiKey}`,
        '             (tenant "demo"; pre-filled in GraphiQL\'s headers tab)',
        `  Try:       curl -H "Authorization: Bearer ${gateway.demoApiKey}" "${running.url}/enterprise/v1/audit-log?maxResults=5"`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n\n`);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        running.stop(signal).then(
          () => process.exit(0),
          (err) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async () => {
    const current = settings();
    const cfg = current.config;
    if (cfg.migrationDatabaseUrl) {
      announceDatabase(current, 'expected');
      const { applyMigrations } = await import('./db/migrate.ts');
      await applyMigrations({ kind: 'postgres', url: cfg.migrationDatabaseUrl });
    } else await withDatabase(async () => {}, 'expected'); // opening the embedded database migrates it
    process.stdout.write('migrations applied\n');
  });

program
  .command('secrets')
  .description('make a TOKEN_SECRET and SIGNING_KEY, as lines for a .env file or a shell')
  .option('--out <file>', 'append them to this file (created readable by you only) instead of printing')
  .addHelpText(
    'after',
    '\nExamples:\n' +
      '  audit-gateway secrets --out .env     then every command (and npm start) reads .env\n' +
      '  eval "$(audit-gateway secrets)"      export them in this shell\n',
  )
  .action((opts: { out?: string }) => {
    const signingKey = generateKeyPairSync('ed25519')
      .privateKey.export({ format: 'der', type: 'pkcs8' })
      .toString('base64');
    // `export NAME=value`: a shell runs it, and .env readers (Node's, dotenv) accept the prefix.
    // Both values are base64 or base64url, so they need no quoting in either.
    const lines = `export TOKEN_SECRET=${randomBytes(32).toString('base64url')}\nexport SIGNING_KEY=${signingKey}\n`;
    if (!opts.out) {
      process.stdout.write(lines);
      process.stderr.write(
        'audit-gateway: keep these private; changing SIGNING_KEY later needs the old key to verify old checkpoints\n',
      );
      return;
    }
    const existing = existsSync(opts.out) ? parseEnv(readFileSync(opts.out, 'utf8')) : {};
    const already = ['TOKEN_SECRET', 'SIGNING_KEY'].filter((name) => existing[name] !== undefined);
    if (already.length > 0) {
      fail(
        `error: ${opts.out} already sets ${already.join(' and ')}; not replacing secrets that may be in use`,
      );
    }
    const fd = openSync(opts.out, 'a', 0o600);
    try {
      // It holds secrets now, whoever could read it before.
      fchmodSync(fd, 0o600);
      const text = readFileSync(opts.out, 'utf8');
      writeSync(fd, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${lines}`);
    } finally {
      closeSync(fd);
    }
    process.stderr.write(`audit-gateway: wrote TOKEN_SECRET and SIGNING_KEY to ${opts.out}\n`);
  });

const tenants = program.command('tenants').description('manage tenants');
tenants
  .command('create <slug>')
  .description('create a tenant')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async (slug: string, opts: { json?: boolean }) => {
    const { createTenant, validateSlug } = await import('./auth/admin.ts');
    validateSlug(slug);
    await withDatabase(async (db) => {
      const tenant = await createTenant(db, slug);
      print(!!opts.json, tenant, `created tenant ${tenant.slug} (id ${tenant.id})`);
    });
  });
tenants
  .command('list')
  .description('list tenants')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async (opts: { json?: boolean }) => {
    const { listTenants } = await import('./auth/admin.ts');
    await withDatabase(async (db) => {
      const all = await listTenants(db);
      print(!!opts.json, all, all.map((t) => `${t.id}\t${t.slug}`).join('\n'));
    });
  });

const keys = program.command('keys').description('manage API keys');
keys
  .command('create')
  .description('create an API key for a tenant; the key is shown once')
  .requiredOption('--tenant <slug>', 'tenant slug')
  .option('--scopes <list>', 'comma-separated: read, write', 'read')
  .option('--name <name>', 'a note to recognise the key by')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async (opts: { tenant: string; scopes: string; name?: string; json?: boolean }) => {
    const { createApiKey, parseScopes } = await import('./auth/admin.ts');
    const scopes = parseScopes(opts.scopes);
    await withDatabase(async (db) => {
      const created = await createApiKey(db, opts.tenant, scopes, opts.name ?? null);
      print(
        !!opts.json,
        {
          key: created.key,
          id: created.id,
          tenant: created.tenant.slug,
          tenantId: created.tenant.id,
          scopes: created.scopes,
        },
        `${created.key}\n(key id ${created.id}, tenant ${created.tenant.slug}, scopes ${created.scopes.join(',')}; store it now, it is not shown again)`,
      );
    });
  });
keys
  .command('revoke <keyId>')
  .description('revoke an API key (by id, or the whole key); effective on the next request')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async (keyId: string) => {
    const { revokeApiKey } = await import('./auth/admin.ts');
    await withDatabase(async (db) => {
      await revokeApiKey(db, keyId);
      process.stdout.write(`revoked ${keyId}\n`);
    });
  });
keys
  .command('list')
  .description('list the API keys of a tenant (ids and scopes, never secrets)')
  .requiredOption('--tenant <slug>', 'tenant slug')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
  .action(async (opts: { tenant: string; json?: boolean }) => {
    const { listApiKeys } = await import('./auth/admin.ts');
    await withDatabase(async (db) => {
      const tenant = await tenantOf(db, opts.tenant);
      const all = await listApiKeys(db, tenant.id);
      print(
        !!opts.json,
        all,
        all
          .map(
            (k) =>
              `${k.id}\t${k.scopes.join(',')}\t${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'live'}\t${k.name ?? ''}`,
          )
          .join('\n'),
      );
    });
  });

keys
  .command('rotate-signing')
  .description(
    'make a new chain signing key and retire the current one (its public key keeps verifying old checkpoints)',
  )
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(['DATA_DIR', 'SIGNING_KEY', 'SIGNING_KEY_PREVIOUS']))
  .action(async (opts: { json?: boolean }) => {
    const { rotateSigningKey } = await import('./secrets.ts');
    const rotation = rotateSigningKey(settings().config);
    const text = rotation.environment
      ? `new signing key ${rotation.newKeyId}; key ${rotation.retiredKeyId} retires. Set, then restart every instance:\n` +
        `SIGNING_KEY=\n${rotation.environment.SIGNING_KEY}\n\nSIGNING_KEY_PREVIOUS=\n${rotation.environment.SIGNING_KEY_PREVIOUS}`
      : `new signing key ${rotation.newKeyId} written to ${rotation.writtenTo}; key ${rotation.retiredKeyId} retired ` +
        '(its public key kept beside it). Restart the gateway.';
    print(!!opts.json, rotation, text);
  });

program
  .command('seed')
  .description('record realistic demo events for a tenant (through the normal ingest path)')
  .requiredOption('--tenant <slug>', 'tenant slug')
  .requiredOption('--events <n>', 'how many events', positiveInt)
  .option('--seed <n>', 'random seed, for repeatable data', positiveInt, 1)
  .option('--days <n>', 'spread over this many past days', positiveInt, 90)
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(async (opts: { tenant: string; events: number; seed: number; days: number; json?: boolean }) => {
    const [{ demoEvents }, { recordDemoEvents, terminalProgress }] = await Promise.all([
      import('./demo/events.ts'),
      import('./demo/seed.ts'),
    ]);
    await withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway.database, opts.tenant);
      const events = demoEvents({
        count: opts.events,
        seed: opts.seed,
        now: new Date(),
        spanDays: opts.days,
      });
      const stored = await recordDemoEvents(
        gateway.audit,
        operatorViewer(tenant),
        events,
        opts.events,
        terminalProgress('recording events'),
      );
      print(!!opts.json, { tenant: tenant.slug, stored }, `recorded ${stored} events for ${tenant.slug}`);
    });
  });

function readCheckpoint(file: string | undefined): SignedStatementText | undefined {
  if (!file) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SignedStatementText>;
  if (typeof parsed.statement !== 'string' || typeof parsed.signature !== 'string') {
    throw new Error(`${file} is not a signed checkpoint ({"statement": "...", "signature": "..."})`);
  }
  return { statement: parsed.statement, signature: parsed.signature };
}

function printVerification(
  json: boolean,
  report: VerificationResult & { status: VerificationStatus; unknownKeyIds: string[] },
) {
  print(json, report, summarizeVerification(report));
  process.exitCode = EXIT_STATUS[report.status];
}

program
  .command('verify')
  .description("verify a tenant's hash chain from the database, or an exported file offline")
  .option('--tenant <slug>', "verify this tenant's chain in the database")
  .option('--from <seq>', 'first sequence number (database mode)', positiveInt)
  .option('--to <seq>', 'last sequence number (database mode)', positiveInt)
  .option('--file <path>', 'verify an export (NDJSON) offline, without database access')
  .option('--public-key <path>', 'PEM public key for --file (from /.well-known/audit-signing-key.pem)')
  .option(
    '--checkpoint <path>',
    'a signed checkpoint kept outside the database (JSON {statement, signature})',
  )
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(
    async (opts: {
      tenant?: string;
      from?: number;
      to?: number;
      file?: string;
      publicKey?: string;
      checkpoint?: string;
      json?: boolean;
    }) => {
      const checkpoint = readCheckpoint(opts.checkpoint);
      if (opts.file) {
        if (!opts.publicKey) throw new InvalidArgumentError('--file needs --public-key');
        const [{ KeyRing }, { createReadStream }, { createInterface }, { verifyExportFile }] =
          await Promise.all([
            import('./audit/signer.ts'),
            import('node:fs'),
            import('node:readline'),
            import('./audit/export-file.ts'),
          ]);
        const publicKeys = KeyRing.parse(readFileSync(opts.publicKey, 'utf8'));
        const lines = createInterface({
          input: createReadStream(opts.file),
          crlfDelay: Number.POSITIVE_INFINITY,
        });
        printVerification(!!opts.json, await verifyExportFile(lines, publicKeys, checkpoint));
        return;
      }
      if (!opts.tenant)
        throw new InvalidArgumentError('give --tenant <slug> (database) or --file <export> (offline)');
      const slug = opts.tenant;
      await withGateway(async (gateway) => {
        const tenant = await tenantOf(gateway.database, slug);
        printVerification(
          !!opts.json,
          await gateway.chain.verify(operatorViewer(tenant), {
            fromSeq: opts.from,
            toSeq: opts.to,
            checkpoint,
          }),
        );
      });
    },
  );

program
  .command('export')
  .description(
    "write a tenant's chain (events with hashes, signed checkpoints) as NDJSON for offline verification",
  )
  .requiredOption('--tenant <slug>', 'tenant slug')
  .option('--out <path>', 'file to write (default: standard output)')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(async (opts: { tenant: string; out?: string }) => {
    const [{ createWriteStream }, { Readable }, { pipeline }] = await Promise.all([
      import('node:fs'),
      import('node:stream'),
      import('node:stream/promises'),
    ]);
    await withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway.database, opts.tenant);
      await pipeline(
        Readable.from(gateway.chain.export(operatorViewer(tenant))),
        opts.out ? createWriteStream(opts.out) : process.stdout,
      );
    });
  });

program
  .command('checkpoint')
  .description("sign the tenant's chain head now and print the checkpoint (keep it somewhere else)")
  .requiredOption('--tenant <slug>', 'tenant slug')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(async (opts: { tenant: string }) => {
    await withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway.database, opts.tenant);
      const operator = operatorViewer(tenant);
      const statement = await gateway.chain.checkpointNow(operator);
      if (!statement) throw new Error(`tenant ${opts.tenant} has no events yet`);
      const stored = await gateway.audit.listCheckpoints(operator, statement.seq - 1, 10);
      const signed = stored.find((c) => c.kind === 'checkpoint' && c.seq === statement.seq);
      process.stdout.write(
        `${JSON.stringify({ statement: signed?.statement, signature: signed?.signature })}\n`,
      );
    });
  });

program
  .command('prune')
  .description(
    'remove events received before a date, leaving a signed anchor so the rest of the chain verifies',
  )
  .requiredOption('--before <date>', 'RFC 3339 date-time or YYYY-MM-DD (UTC)')
  .option('--tenant <slug>', 'only this tenant (default: every tenant)')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(async (opts: { before: string; tenant?: string; json?: boolean }) => {
    const [{ parseDateOnly, parseDateTime }, { listTenants }] = await Promise.all([
      import('./audit/time.ts'),
      import('./auth/admin.ts'),
    ]);
    const parsed = /^\d{4}-\d{2}-\d{2}$/.test(opts.before)
      ? parseDateOnly(opts.before)
      : parseDateTime(opts.before);
    if (typeof parsed === 'string') throw new InvalidArgumentError(`--before ${parsed}`);
    const cutoff = parsed;
    await withGateway(async (gateway) => {
      const tenants = opts.tenant
        ? [await tenantOf(gateway.database, opts.tenant)]
        : await listTenants(gateway.database);
      const results = [];
      for (const tenant of tenants) {
        const pruned = await gateway.chain.prune(operatorViewer(tenant), gateway.database, cutoff);
        results.push({ tenant: tenant.slug, ...(pruned ?? { removed: 0 }) });
      }
      print(
        !!opts.json,
        results,
        results
          .map(
            (r) =>
              `${r.tenant}: removed ${r.removed}${'throughSequence' in r ? ` (through sequence ${r.throughSequence})` : ''}`,
          )
          .join('\n'),
      );
    });
  });

const streams = program
  .command('streams')
  .description("manage log streams (webhooks, NATS JetStream) that receive tenants' events");
streams
  .command('create')
  .description('add a log stream for a tenant (or one per tenant); a webhook secret is shown once')
  .option('--tenant <slug>', 'tenant slug')
  .option('--all-tenants', 'one stream for each existing tenant, all with the same destination and secret')
  .requiredOption('--name <name>', 'a name for people')
  .option('--webhook-url <url>', 'POST signed batches to this https:// URL')
  .option('--secret <secret>', 'webhook signing secret, 32 to 256 characters (default: a new random one)')
  .option('--nats-servers <list>', 'publish to NATS JetStream: comma-separated host:port')
  .option('--nats-stream <name>', 'the JetStream stream that captures the subjects')
  .option('--subject-prefix <prefix>', 'NATS subject prefix (default: audit)')
  .option('--create-stream', 'create the NATS stream when it does not exist')
  .option('--actions <list>', 'only these actions (comma-separated; default: every event)')
  .option('--from-beginning', "deliver the tenant's whole history first (default: only new events)")
  .option('--json', 'machine-readable output (an array with --all-tenants)')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(
    async (opts: {
      tenant?: string;
      allTenants?: boolean;
      name: string;
      webhookUrl?: string;
      secret?: string;
      natsServers?: string;
      natsStream?: string;
      subjectPrefix?: string;
      createStream?: boolean;
      actions?: string;
      fromBeginning?: boolean;
      json?: boolean;
    }) => {
      if (!opts.tenant === !opts.allTenants)
        throw new InvalidArgumentError('give --tenant <slug> or --all-tenants');
      const list = (v: string) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      const { listTenants } = await import('./auth/admin.ts');
      await withGateway(async (gateway) => {
        const tenants = opts.tenant
          ? [await tenantOf(gateway.database, opts.tenant)]
          : await listTenants(gateway.database);
        // Every tenant's batches signed with one secret, so one receiver checks them all.
        let sharedSecret = opts.secret;
        const created = [];
        for (const tenant of tenants) {
          const { stream, secret } = await gateway.streams.create(operatorViewer(tenant), {
            name: opts.name,
            webhook: opts.webhookUrl ? { url: opts.webhookUrl, secret: sharedSecret } : undefined,
            nats:
              opts.natsServers || opts.natsStream
                ? {
                    servers: list(opts.natsServers ?? ''),
                    stream: opts.natsStream ?? '',
                    subjectPrefix: opts.subjectPrefix,
                    createStream: opts.createStream,
                  }
                : undefined,
            actions: opts.actions === undefined ? undefined : list(opts.actions),
            startFrom: opts.fromBeginning ? 'beginning' : 'now',
          });
          sharedSecret ??= secret ?? undefined;
          created.push({ ...stream, tenant: tenant.slug, secret });
        }
        const secret = created[0]?.secret;
        print(
          !!opts.json,
          opts.tenant ? created[0] : created,
          created.map((s) => `${s.id}\t${s.tenant}\t${s.kind}\t${s.name}`).join('\n') +
            (secret ? `\nsecret: ${secret}\n(store it now, it is not shown again)` : ''),
        );
      });
    },
  );
streams
  .command('list')
  .description('list log streams with their delivery status (never secrets)')
  .option('--tenant <slug>', 'only this tenant (default: every tenant)')
  .option('--json', 'machine-readable output')
  .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
  .action(async (opts: { tenant?: string; json?: boolean }) => {
    const { listTenants } = await import('./auth/admin.ts');
    await withGateway(async (gateway) => {
      const tenants = opts.tenant
        ? [await tenantOf(gateway.database, opts.tenant)]
        : await listTenants(gateway.database);
      const rows = [];
      for (const tenant of tenants) {
        for (const s of await gateway.streams.list(operatorViewer(tenant)))
          rows.push({ tenant: tenant.slug, ...s });
      }
      print(
        !!opts.json,
        rows,
        rows
          .map(
            (r) =>
              `${r.id}\t${r.tenant}\t${r.kind}\t${r.name}\tposition ${r.position}\tlag ${r.lag}` +
              (r.paused ? '\tpaused' : '') +
              (r.failing ? `\tfailing: ${r.lastError} (next retry ${r.nextRetryAt?.toISOString()})` : ''),
          )
          .join('\n'),
      );
    });
  });
for (const [name, description] of [
  ['delete', 'remove a log stream; delivery stops'],
  ['pause', 'stop delivering a log stream, keeping its position'],
  ['resume', 'resume a paused log stream at once'],
] as const) {
  streams
    .command(`${name} <id>`)
    .description(description)
    .requiredOption('--tenant <slug>', 'tenant slug')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(async (id: string, opts: { tenant: string }) => {
      await withGateway(async (gateway) => {
        const operator = operatorViewer(await tenantOf(gateway.database, opts.tenant));
        if (name === 'delete') await gateway.streams.delete(operator, id);
        else await gateway.streams.setPaused(operator, id, name === 'pause');
        process.stdout.write(`${name === 'delete' ? 'deleted' : `${name}d`} ${id}\n`);
      });
    });
}

/**
 * `serve` is what runs when no command is given (`audit-gateway`, `audit-gateway --dotenv x`).
 * It is not commander's default command, because then a mistyped command would be taken as an
 * argument to `serve` instead of being reported as unknown.
 */
function withDefaultCommand(args: string[]): string[] {
  const valueOptions = new Set(['--dotenv']);
  const informational = new Set(['-h', '--help', '-V', '--version']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (informational.has(arg)) return args;
    if (valueOptions.has(arg)) i++;
    else if (!arg.startsWith('-')) return args;
  }
  return ['serve', ...args];
}

program.parseAsync(withDefaultCommand(process.argv.slice(2)), { from: 'user' }).catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
