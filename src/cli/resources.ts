// What every command shares: its settings (or exit 2 naming every problem), the two ways to open
// what it works on (a database alone, or a whole gateway), the tenant named by --tenant, output,
// and the environment-variable help. Heavy modules are imported when a command opens them, so
// `--help` stays fast.
import { InvalidArgumentError } from 'commander';
import { operatorViewer, type Viewer } from '../audit/viewer.ts';
import { type Config, ConfigError, loadConfig } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { Gateway } from '../gateway.ts';
import {
  databaseSource,
  describeDatabase,
  EnvFileError,
  type Environment,
  embeddedDatabaseWarnings,
  readEnvironment,
} from './environment.ts';

/** What the environment variables mean, for each command's help. */
const VARIABLES: Record<string, string> = {
  DATABASE_URL: 'Postgres URL (postgres://user:password@host:5432/db); unset: embedded PGlite in DATA_DIR',
  DATABASE_MIGRATION_URL: 'owner connection for migrations and prune (default: DATABASE_URL)',
  DATA_DIR: 'embedded database and development secrets (default ./.data)',
  TOKEN_SECRET: 'HMAC secret for cursors, 32+ characters; unset outside production: kept in DATA_DIR',
  SIGNING_KEY: 'Ed25519 key signing checkpoints: PEM, base64 or a PEM file; unset: kept in DATA_DIR',
  NODE_ENV: 'production requires DATABASE_URL, TOKEN_SECRET and SIGNING_KEY',
  LOG_LEVEL: 'fatal, error, warn, info (default), debug, trace or silent',
  RETENTION_DEFAULT: 'how long a tenant without a policy keeps events: 30d, 13mo, 7y or forever (default)',
  RETENTION_INTERVAL_SECONDS: 'how often a serving gateway applies retention (default 3600)',
};
export const DATABASE_VARIABLES = ['DATABASE_URL', 'DATABASE_MIGRATION_URL', 'DATA_DIR'];
export const GATEWAY_VARIABLES = [...DATABASE_VARIABLES, 'TOKEN_SECRET', 'SIGNING_KEY'];

export function environmentHelp(names: readonly string[]): string {
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n) => `  ${n.padEnd(width)}  ${VARIABLES[n] ?? 'see the README'}`.trimEnd());
  return `\nEnvironment (also read from ./.env, or the file named by --dotenv or DOTENV_FILE):\n${lines.join('\n')}\n`;
}

export type Settings = { config: Config; environment: Environment };
export type Tenant = { id: number; slug: string };
type CreatesDatabase = 'expected' | 'unexpected';

export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

export function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

/** The shared pieces, bound to the program's global options (--dotenv). */
export type Cli = ReturnType<typeof cliResources>;

export function cliResources(globalOptions: () => { dotenv?: string | false }) {
  /** The environment and configuration, or exit 2 with every problem named. */
  function settings(): Settings {
    let environment: Environment;
    try {
      environment = readEnvironment(globalOptions().dotenv);
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
  function announceDatabase({ config, environment }: Settings, createsDatabase: CreatesDatabase) {
    process.stderr.write(
      `audit-gateway: database: ${describeDatabase(config)} (${databaseSource(environment)})\n`,
    );
    for (const warning of embeddedDatabaseWarnings(config, environment, { createsDatabase })) {
      process.stderr.write(`audit-gateway: warning: ${warning}\n`);
    }
  }

  /** Opens the database alone (tenants, keys, migrations), for one command. */
  async function withDatabase<T>(
    fn: (db: Database, cfg: Config) => Promise<T>,
    createsDatabase: CreatesDatabase = 'unexpected',
  ): Promise<T> {
    const current = settings();
    announceDatabase(current, createsDatabase);
    const { openDatabase } = await import('../db/client.ts');
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

  /** Opens a gateway (database, services, signing key) for one command, without demo data. */
  async function withGateway<T>(fn: (gateway: Gateway) => Promise<T>): Promise<T> {
    const current = settings();
    announceDatabase(current, 'unexpected');
    const [{ openGateway }, { createLogger }] = await Promise.all([
      import('../gateway.ts'),
      import('../logger.ts'),
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

  /** A gateway and the operator of the tenant named on the command line (which must exist). */
  function withTenantGateway<T>(
    slug: string,
    fn: (gateway: Gateway, operator: Viewer, tenant: Tenant) => Promise<T>,
  ): Promise<T> {
    return withGateway(async (gateway) => {
      const tenant = await tenantOf(gateway.database, slug);
      return fn(gateway, operatorViewer(tenant), tenant);
    });
  }

  return { settings, announceDatabase, withDatabase, withGateway, withTenantGateway };
}

/** The tenant with this slug, or NotFoundError naming it. */
export async function tenantOf(database: Database, slug: string): Promise<Tenant> {
  const [{ findTenantBySlug }, { NotFoundError }] = await Promise.all([
    import('../auth/admin.ts'),
    import('../errors.ts'),
  ]);
  const tenant = await findTenantBySlug(database, slug);
  if (!tenant) throw new NotFoundError(`Tenant "${slug}"`);
  return tenant;
}
