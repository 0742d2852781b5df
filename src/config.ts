// Parses process.env once, reports every problem at the same time, and hands the rest of the
// program a typed, frozen Config. Nothing else in src/ reads process.env.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { ValidationError } from './errors.ts';
import { parseRetentionPeriod } from './retention-period.ts';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = (min: number, max: number) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

/** An origin exactly as a browser sends it in `Origin`: scheme, host, port; nothing else. */
const corsOrigin = z.string().superRefine((value, ctx) => {
  const problem = originProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `"${value}" ${problem}` });
});

/** A comma-separated list; blanks around and between entries are dropped. */
const commaList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const secret = z.string().min(32, {
  message: 'must be at least 32 characters of random text (`audit-gateway secrets` makes one)',
});

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: positiveInt(0, 65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  DATABASE_MIGRATION_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  DATABASE_POOL_SIZE: positiveInt(1, 200).default(10),
  DATABASE_REPLICA_URLS: commaList.pipe(
    z.array(z.string().regex(/^postgres(ql)?:\/\//, { message: 'each must be a postgres:// URL' })),
  ),
  DATABASE_REPLICA_MAX_LAG_MS: positiveInt(1, 3_600_000).default(2000),
  DATABASE_REPLICA_POLL_MS: positiveInt(20, 60_000).default(200),
  DATABASE_PIPELINE: booleanFlag.default(false),
  MIGRATE_ON_START: booleanFlag.default(true),
  DATA_DIR: z.string().min(1).default('./.data'),
  TOKEN_SECRET: secret.optional(),
  TOKEN_SECRET_PREVIOUS: secret.optional(),
  SIGNING_KEY: z.string().min(1).optional(),
  SIGNING_KEY_PREVIOUS: z.string().min(1).optional(),
  CHECKPOINT_EVERY_EVENTS: positiveInt(1, 10_000_000).default(1000),
  CHECKPOINT_INTERVAL_SECONDS: positiveInt(1, 86_400 * 7).default(3600),
  TRUSTED_PROXIES: z.string().default(''),
  READ_LOG_FLUSH_MS: positiveInt(10, 60_000).default(250),
  READ_LOG_BATCH_SIZE: positiveInt(1, 10_000).default(500),
  READ_LOG_QUEUE_LIMIT: positiveInt(1, 1_000_000).default(20_000),
  LOG_STREAMS: booleanFlag.default(true),
  LOG_STREAM_POLL_MS: positiveInt(10, 60_000).default(250),
  LOG_STREAM_RETRY_MIN_MS: positiveInt(1, 3_600_000).default(1000),
  LOG_STREAM_RETRY_MAX_MS: positiveInt(1, 86_400_000).default(300_000),
  LOG_STREAM_DELIVERY_TIMEOUT_MS: positiveInt(100, 600_000).default(10_000),
  LIVE_TAIL_POLL_MS: positiveInt(50, 60_000).default(1000),
  LIVE_TAIL_RECHECK_SECONDS: positiveInt(1, 3600).default(5),
  LIVE_TAIL_HEARTBEAT_SECONDS: positiveInt(1, 15).default(10),
  LIVE_TAIL_QUEUE_LIMIT: positiveInt(1, 1_000_000).default(10_000),
  LIVE_TAIL_STREAMS_PER_KEY: positiveInt(1, 100_000).default(100),
  LIVE_TAIL_STREAMS_PER_TENANT: positiveInt(1, 100_000).default(1000),
  CORS_ORIGINS: commaList.pipe(z.array(corsOrigin)),
  RETENTION_DEFAULT: z
    .string()
    .default('forever')
    .transform((value, ctx) => {
      try {
        return parseRetentionPeriod(value, 'RETENTION_DEFAULT');
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.reason });
        return z.NEVER;
      }
    }),
  RETENTION_INTERVAL_SECONDS: positiveInt(1, 86_400 * 7).default(3600),
  MADKUDU_RETENTION_MONTHS: positiveInt(1, 1200).default(13),
  BODY_LIMIT_BYTES: positiveInt(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  GRAPHIQL: booleanFlag.optional(),
  GRAPHQL_INTROSPECTION: booleanFlag.optional(),
  AUTH_FAILURES_PER_MINUTE: positiveInt(1, 100_000).default(30),
  AUTH_CACHE_KEYS: positiveInt(1, 10_000_000).default(10_000),
  AUTH_CACHE_MAX_AGE_MS: positiveInt(0, 3_600_000).default(30_000),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt(1, 600).default(20),
  DEMO_SEED: booleanFlag.default(true),
  DEMO_EVENTS: positiveInt(0, 1_000_000).default(3000),
  SEARCH_TIMEOUT_MS: positiveInt(1, 600_000).default(10_000),
  METRICS_ENABLED: booleanFlag.default(true),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ message: 'must be a URL, e.g. http://collector:4318' }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('audit-gateway'),
  METRICS_TOKEN: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every variable loadConfig reads (the CLI's help lists them). */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape);

/** The program's settings: what configFrom makes of the validated environment. */
export type Config = Readonly<ReturnType<typeof configFrom>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the environment; throws ConfigError listing every problem found. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(
    Object.keys(EnvSchema.shape).flatMap((k) => (env[k] === undefined || env[k] === '' ? [] : [[k, env[k]]])),
  );
  const parsed = EnvSchema.safeParse(raw);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Checks across variables run even when some failed above, so every problem is listed at once.
  const production = raw.NODE_ENV === 'production';
  const trustedProxies = String(raw.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of trustedProxies) {
    if (!isProxySpec(p)) problems.push(`TRUSTED_PROXIES: "${p}" is not an IP address, CIDR or preset name`);
  }
  const signingKey = raw.SIGNING_KEY === undefined ? undefined : readSigningKey(String(raw.SIGNING_KEY));
  if (typeof signingKey === 'object') problems.push(`SIGNING_KEY: ${signingKey.problem}`);
  if (raw.DATABASE_REPLICA_URLS && String(raw.DATABASE_REPLICA_URLS).trim() && !raw.DATABASE_URL) {
    problems.push('DATABASE_REPLICA_URLS: needs DATABASE_URL (the embedded database has no replicas)');
  }
  if (production) {
    if (!raw.TOKEN_SECRET) problems.push('TOKEN_SECRET: required when NODE_ENV=production');
    if (!raw.SIGNING_KEY) problems.push('SIGNING_KEY: required when NODE_ENV=production');
    if (!raw.DATABASE_URL) {
      problems.push(
        'DATABASE_URL: required when NODE_ENV=production (the embedded database is for development)',
      );
    }
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(configFrom(parsed.data, { production, trustedProxies, signingKey }));
}

/**
 * The Config from a validated environment and the checks across variables; its type is the
 * Config type, so a setting is named and typed in one place.
 */
function configFrom(
  e: z.output<typeof EnvSchema>,
  {
    production,
    trustedProxies,
    signingKey,
  }: {
    production: boolean;
    trustedProxies: string[];
    signingKey: ReturnType<typeof readSigningKey> | undefined;
  },
) {
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    /** Absent: the embedded PGlite database under dataDir. */
    databaseUrl: e.DATABASE_URL,
    /** Connection used to apply migrations and run owner-only maintenance (prune). */
    migrationDatabaseUrl: e.DATABASE_MIGRATION_URL ?? e.DATABASE_URL,
    poolSize: e.DATABASE_POOL_SIZE,
    /** Streaming replicas of DATABASE_URL that serve reads; see docs/scaling.md. */
    replicas: {
      urls: e.DATABASE_REPLICA_URLS,
      maxLagMs: e.DATABASE_REPLICA_MAX_LAG_MS,
      pollMs: e.DATABASE_REPLICA_POLL_MS,
    },
    /**
     * Postgres: BEGIN, the tenant setting and a transaction's first statement in one round trip
     * (db/client.ts runTransaction). Off by default: see the CHANGELOG.
     */
    pipeline: e.DATABASE_PIPELINE,
    migrateOnStart: e.MIGRATE_ON_START,
    dataDir: e.DATA_DIR,
    /** HMAC secrets for cursors and tokens; the first signs, all verify (rotation). */
    tokenSecrets: e.TOKEN_SECRET
      ? [e.TOKEN_SECRET, ...(e.TOKEN_SECRET_PREVIOUS ? [e.TOKEN_SECRET_PREVIOUS] : [])]
      : undefined,
    /** Ed25519 private key (PKCS#8 PEM, checked at load) that signs chain checkpoints. */
    signingKey: typeof signingKey === 'string' ? signingKey : undefined,
    /** Retired signing keys (PEM blocks, or base64 DER separated by commas): old checkpoints verify with them. */
    previousSigningKeys: e.SIGNING_KEY_PREVIOUS,
    checkpointEveryEvents: e.CHECKPOINT_EVERY_EVENTS,
    checkpointIntervalSeconds: e.CHECKPOINT_INTERVAL_SECONDS,
    trustedProxies,
    /** Who read the trail: how the records of reads are batched (per tenant on/off is in the database). */
    readLog: {
      flushMs: e.READ_LOG_FLUSH_MS,
      batchSize: e.READ_LOG_BATCH_SIZE,
      queueLimit: e.READ_LOG_QUEUE_LIMIT,
    },
    logStreams: {
      enabled: e.LOG_STREAMS,
      pollMs: e.LOG_STREAM_POLL_MS,
      retryMinMs: e.LOG_STREAM_RETRY_MIN_MS,
      retryMaxMs: Math.max(e.LOG_STREAM_RETRY_MIN_MS, e.LOG_STREAM_RETRY_MAX_MS),
      deliveryTimeoutMs: e.LOG_STREAM_DELIVERY_TIMEOUT_MS,
    },
    liveTail: {
      pollMs: e.LIVE_TAIL_POLL_MS,
      recheckMs: e.LIVE_TAIL_RECHECK_SECONDS * 1000,
      heartbeatMs: e.LIVE_TAIL_HEARTBEAT_SECONDS * 1000,
      queueLimit: e.LIVE_TAIL_QUEUE_LIMIT,
      perKey: e.LIVE_TAIL_STREAMS_PER_KEY,
      perTenant: e.LIVE_TAIL_STREAMS_PER_TENANT,
    },
    /** Browser origins that may call the API cross-origin; empty: none. */
    corsOrigins: e.CORS_ORIGINS,
    /** Stored events: how long a tenant without a policy of its own keeps them, and how often the job looks. */
    retention: { defaultPeriod: e.RETENTION_DEFAULT, intervalSeconds: e.RETENTION_INTERVAL_SECONDS },
    /** Served events: MadKudu's read-side window (docs/retention.md#read-side-windows), not retention. */
    madkuduRetentionMonths: e.MADKUDU_RETENTION_MONTHS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    graphiql: e.GRAPHIQL ?? !production,
    introspection: e.GRAPHQL_INTROSPECTION ?? !production,
    authFailuresPerMinute: e.AUTH_FAILURES_PER_MINUTE,
    /** API key rows kept in the process (src/auth/key-cache.ts); maxAgeMs 0 turns it off. */
    authCache: { maxKeys: e.AUTH_CACHE_KEYS, maxAgeMs: e.AUTH_CACHE_MAX_AGE_MS },
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    demoSeed: e.DEMO_SEED,
    demoEvents: e.DEMO_EVENTS,
    /** How long a read with filter.search may run before it is stopped with an error (Postgres). */
    searchTimeoutMs: e.SEARCH_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    /** GET /metrics (Prometheus); it carries no tenant data, so it is on unless switched off. */
    metricsEnabled: e.METRICS_ENABLED,
    /** When set, /metrics answers only `Authorization: Bearer <token>`. */
    metricsToken: e.METRICS_TOKEN,
    /** OTLP/HTTP collector base URL; tracing is off without it. */
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: e.OTEL_SERVICE_NAME,
  };
}

/** proxy-addr (Express's trusted-proxy parser) decides what a valid entry is. */
function isProxySpec(spec: string): boolean {
  try {
    proxyAddr.compile([spec]);
    return true;
  } catch {
    return false;
  }
}

function originProblem(value: string): string | undefined {
  if (value.includes('*')) return 'is a wildcard; list each allowed origin';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an origin such as https://app.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must start with https:// or http://';
  if (url.origin !== value) {
    return `is not an origin: write ${url.origin} (scheme, host and port only; no path, no trailing slash)`;
  }
  return undefined;
}

/**
 * SIGNING_KEY may be the PEM itself (newlines real or written as `\n`), the same PKCS#8 DER in
 * base64 on one line (what `audit-gateway secrets` prints, easy in a shell or a .env file), or
 * the path of a PEM file. Returns the key as PEM, or why it cannot be used, so a bad key is a
 * configuration error naming the variable instead of a crypto error at start.
 */
export function readSigningKey(value: string): string | { problem: string } {
  let text = value.trim();
  let source = 'the value';
  // .env files do not expand ~ the way a shell does.
  const file = text.startsWith('~/') ? path.join(homedir(), text.slice(2)) : text;
  if (!text.startsWith('-----BEGIN') && existsSync(file) && statSync(file).isFile()) {
    source = `the file ${text}`;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      return { problem: `cannot read ${source}: ${(error as Error).message}` };
    }
  }
  if (text.startsWith('-----BEGIN')) text = text.replaceAll('\\n', '\n');
  else if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    if (/^(\.{1,2}\/|~\/|\/)|\.pem$/.test(text)) return { problem: `there is no file ${text}` };
    return {
      problem:
        'must be an Ed25519 private key: a PEM, its base64 on one line, or the path of a PEM file ' +
        '(`audit-gateway secrets` makes one)',
    };
  }
  try {
    const key = text.startsWith('-----BEGIN')
      ? createPrivateKey(text)
      : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') {
      return { problem: `${source} is a ${key.asymmetricKeyType} key; it must be an Ed25519 private key` };
    }
    return key.export({ format: 'pem', type: 'pkcs8' }).toString().trim();
  } catch {
    return {
      problem: `${source} is not a readable private key; it must be an Ed25519 private key (PKCS#8 PEM or its base64) — \`audit-gateway secrets\` makes one`,
    };
  }
}
