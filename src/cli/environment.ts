// Where the CLI's settings come from (the environment, then a .env file) and which database they
// point at, so every command can say which one it opened and warn when that looks unintended.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { Config } from '../config.ts';

export type Environment = {
  /** What loadConfig reads: the process environment, with the env file filling unset variables. */
  values: NodeJS.ProcessEnv;
  /** The env file that was read, if any. */
  envFile: string | undefined;
  /** Variables whose value came from the env file rather than the environment. */
  fromFile: Set<string>;
};

export class EnvFileError extends Error {}

/**
 * Reads `file` (from --dotenv; `false`: --no-dotenv), else the file DOTENV_FILE names (`none`:
 * none; the test suite sets that so a developer's .env never reaches it), else `./.env` when it
 * exists. Variables already set in the environment win, as with `node --env-file`; an empty one
 * counts as unset.
 */
export function readEnvironment(
  file: string | false | undefined,
  processEnv: NodeJS.ProcessEnv = process.env,
): Environment {
  const named = file ?? (processEnv.DOTENV_FILE ? processEnv.DOTENV_FILE : undefined);
  const envFile =
    named === false || named === 'none' ? undefined : (named ?? (existsSync('.env') ? '.env' : undefined));
  const values: NodeJS.ProcessEnv = { ...processEnv };
  const fromFile = new Set<string>();
  if (envFile !== undefined) {
    let parsed: NodeJS.Dict<string>;
    try {
      parsed = parseEnv(readFileSync(envFile, 'utf8'));
    } catch (error) {
      throw new EnvFileError(`cannot read the env file ${envFile}: ${(error as Error).message}`);
    }
    for (const [name, value] of Object.entries(parsed)) {
      if (value === undefined || (values[name] !== undefined && values[name] !== '')) continue;
      values[name] = value;
      fromFile.add(name);
    }
  }
  return { values, envFile, fromFile };
}

/** A one-line description of the database a configuration opens; never shows a password. */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) {
    return config.dataDir.startsWith('memory://')
      ? 'embedded PGlite in memory (nothing is kept)'
      : `embedded PGlite in ${path.resolve(config.dataDir)}`;
  }
  const url = new URL(config.databaseUrl);
  const host = url.searchParams.get('host') ?? (url.hostname || 'localhost');
  const port = url.port || '5432';
  const user = decodeURIComponent(url.username) || '(your OS user)';
  const database = decodeURIComponent(url.pathname.slice(1)) || user;
  return `Postgres database "${database}" on ${host}:${port} as ${user}`;
}

/** Says where DATABASE_URL came from, for the line every database command prints. */
export function databaseSource(environment: Environment): string {
  if (environment.fromFile.has('DATABASE_URL')) return `DATABASE_URL from ${environment.envFile}`;
  if (environment.values.DATABASE_URL) return 'DATABASE_URL from the environment';
  return environment.envFile ? `DATABASE_URL not set, read ${environment.envFile}` : 'DATABASE_URL not set';
}

const LIBPQ_VARIABLES = ['PGHOST', 'PGDATABASE', 'PGUSER', 'PGPORT'];

/**
 * Reasons to think the embedded database is not the one meant: a .env that was not read (in a
 * directory above, or passed over with --dotenv/--no-dotenv) sets DATABASE_URL, libpq's
 * variables are set (audit-gateway reads only DATABASE_URL), or the command is about to create
 * a new, empty embedded database.
 */
export function embeddedDatabaseWarnings(
  config: Pick<Config, 'databaseUrl' | 'dataDir'>,
  environment: Environment,
  options: { createsDatabase: 'expected' | 'unexpected' },
): string[] {
  if (config.databaseUrl) return [];
  const warnings: string[] = [];
  const unread = unreadEnvFileWithDatabaseUrl(environment);
  if (unread) {
    warnings.push(
      `${unread} sets DATABASE_URL, but that file was not read (only ${environment.envFile ?? 'no env file'} was); ` +
        'pass --dotenv, or run from its directory, to use that database',
    );
  }
  for (const name of LIBPQ_VARIABLES) {
    if (environment.values[name]) {
      warnings.push(
        `${name} is set, but audit-gateway reads only DATABASE_URL (postgres://user@host:port/db)`,
      );
    }
  }
  if (
    options.createsDatabase === 'unexpected' &&
    !config.dataDir.startsWith('memory://') &&
    !existsSync(path.resolve(config.dataDir, 'pglite'))
  ) {
    warnings.push(
      `there is no embedded database in ${path.resolve(config.dataDir)} yet, so this creates a new, empty one; ` +
        'set DATABASE_URL (in the environment or in .env) to use a Postgres server',
    );
  }
  return warnings;
}

/** The nearest .env in this directory or one above it that sets DATABASE_URL and was not read. */
function unreadEnvFileWithDatabaseUrl(environment: Environment): string | undefined {
  const loaded = environment.envFile ? path.resolve(environment.envFile) : undefined;
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, '.env');
    if (candidate !== loaded && existsSync(candidate)) {
      try {
        if (parseEnv(readFileSync(candidate, 'utf8')).DATABASE_URL) return candidate;
      } catch {
        // Unreadable: it cannot be what the user meant to load either.
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
