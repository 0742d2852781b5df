// The `audit-gateway` command. The only module with side effects at import: it reads the
// environment once, then runs one subcommand (`serve` by default, which `npm start` runs).
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, InvalidArgumentError } from 'commander';
import { NotFoundError } from './audit/errors.ts';
import { verifyExportFile } from './audit/export-file.ts';
import { KeyRing } from './audit/signer.ts';
import { parseDateOnly, parseDateTime } from './audit/time.ts';
import {
  EXIT_STATUS,
  type SignedStatementText,
  summarizeVerification,
  type VerificationResult,
  type VerificationStatus,
} from './audit/verify.ts';
import { operatorViewer } from './audit/viewer.ts';
import {
  createApiKey,
  createTenant,
  findTenantBySlug,
  listApiKeys,
  listTenants,
  parseScopes,
  revokeApiKey,
  validateSlug,
} from './auth/admin.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { openDatabase } from './db/client.ts';
import { applyMigrations } from './db/migrate.ts';
import { demoEvents } from './demo/events.ts';
import { openGateway } from './gateway.ts';
import { createLogger } from './logger.ts';
import { rotateSigningKey } from './secrets.ts';
import { listen } from './server.ts';

function config(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

async function withDatabase<T>(
  fn: (db: Awaited<ReturnType<typeof openDatabase>>, cfg: Config) => Promise<T>,
): Promise<T> {
  const cfg = config();
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

function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

const program = new Command('audit-gateway')
  .description('GraphQL audit gateway with MadKudu, Mural, Wasabi AiR and Replicated REST compatibility')
  .showHelpAfterError();

program
  .command('serve', { isDefault: true })
  .description('run the HTTP server (GraphQL at /graphql, REST dialects, health checks)')
  .action(async () => {
    const cfg = config();
    const logger = createLogger(cfg.logLevel);
    const gateway = await openGateway({ config: cfg, logger });
    const running = await listen(gateway, cfg, logger);
    const where = cfg.databaseUrl ? 'Postgres' : `embedded PGlite in ${cfg.dataDir}`;
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
  .action(async () => {
    const cfg = config();
    if (cfg.migrationDatabaseUrl) await applyMigrations({ kind: 'postgres', url: cfg.migrationDatabaseUrl });
    else await withDatabase(async () => {}); // opening the embedded database migrates it
    process.stdout.write('migrations applied\n');
  });

const tenants = program.command('tenants').description('manage tenants');
tenants
  .command('create <slug>')
  .description('create a tenant')
  .option('--json', 'machine-readable output')
  .action(async (slug: string, opts: { json?: boolean }) => {
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
  .action(async (opts: { json?: boolean }) => {
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
  .action(async (opts: { tenant: string; scopes: string; name?: string; json?: boolean }) => {
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
  .action(async (keyId: string) => {
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
  .action(async (opts: { tenant: string; json?: boolean }) => {
    await withDatabase(async (db) => {
      const tenant = await findTenantBySlug(db, opts.tenant);
      if (!tenant) throw new NotFoundError(`Tenant "${opts.tenant}"`);
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
  .action((opts: { json?: boolean }) => {
    const rotation = rotateSigningKey(config());
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
  .action(async (opts: { tenant: string; events: number; seed: number; days: number; json?: boolean }) => {
    const cfg = config();
    const logger = createLogger('warn');
    const gateway = await openGateway({ config: { ...cfg, demoSeed: false }, logger });
    try {
      const tenant = await findTenantBySlug(gateway.database, opts.tenant);
      if (!tenant) throw new NotFoundError(`Tenant "${opts.tenant}"`);
      const operator = operatorViewer(tenant);
      let batch: unknown[] = [];
      let stored = 0;
      for (const event of demoEvents({
        count: opts.events,
        seed: opts.seed,
        now: new Date(),
        spanDays: opts.days,
      })) {
        batch.push(event);
        if (batch.length === 1000) {
          stored += (await gateway.audit.recordEvents(operator, batch)).filter((r) => r.ok).length;
          batch = [];
        }
      }
      if (batch.length > 0)
        stored += (await gateway.audit.recordEvents(operator, batch)).filter((r) => r.ok).length;
      print(!!opts.json, { tenant: tenant.slug, stored }, `recorded ${stored} events for ${tenant.slug}`);
    } finally {
      await gateway.close();
    }
  });

/** Opens a gateway (database, services, signing key) for one CLI command, without demo data. */
async function withGateway<T>(
  fn: (gateway: Awaited<ReturnType<typeof openGateway>>) => Promise<T>,
): Promise<T> {
  const cfg = config();
  const gateway = await openGateway({ config: { ...cfg, demoSeed: false }, logger: createLogger('warn') });
  try {
    return await fn(gateway);
  } finally {
    await gateway.close();
  }
}

async function tenantOf(gateway: Awaited<ReturnType<typeof openGateway>>, slug: string) {
  const tenant = await findTenantBySlug(gateway.database, slug);
  if (!tenant) throw new NotFoundError(`Tenant "${slug}"`);
  return tenant;
}

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
  .option(
    '--public-key <path>',
    'public keys for --file: PEM (one or more, as /.well-known/audit-signing-key.pem serves them) or a JSON key set (/.well-known/audit-signing-keys.json)',
  )
  .option(
    '--checkpoint <path>',
    'a signed checkpoint kept outside the database (JSON {statement, signature})',
  )
  .option('--json', 'machine-readable output')
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
        const tenant = await tenantOf(gateway, slug);
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
  .action(async (opts: { tenant: string; out?: string }) => {
    await withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway, opts.tenant);
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
  .action(async (opts: { tenant: string }) => {
    await withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway, opts.tenant);
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
  .action(async (opts: { before: string; tenant?: string; json?: boolean }) => {
    const parsed = /^\d{4}-\d{2}-\d{2}$/.test(opts.before)
      ? parseDateOnly(opts.before)
      : parseDateTime(opts.before);
    if (typeof parsed === 'string') throw new InvalidArgumentError(`--before ${parsed}`);
    const cutoff = parsed;
    await withGateway(async (gateway) => {
      const tenants = opts.tenant
        ? [await tenantOf(gateway, opts.tenant)]
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

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
