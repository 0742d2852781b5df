// Opens the database: a real Postgres through postgres.js when a URL is given, otherwise the
// embedded PGlite under DATA_DIR. Either way the handle that serves requests acts as the
// unprivileged `audit_gateway` role, so row-level security and the append-only grants apply.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { Logger as DrizzleLogger } from 'drizzle-orm/logger';
import type { PgDatabase, PgDialect, PgQueryResultHKT, PgTransactionConfig } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js/session';
import postgres from 'postgres';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { withTimeout } from './errors.ts';
import { applyMigrations } from './migrate.ts';
import { PGLITE_EXTENSIONS } from './pglite-extensions.ts';
import { readPgliteTemplate } from './pglite-template.ts';
import { attachReplicas, ReplicaSet, type ReplicaStatus } from './replicas.ts';

export const APP_ROLE = 'audit_gateway';

/** Startup parameters of every serving session (the benchmark's floors open theirs alike). */
export const servingSession: Record<string, string> = {
  application_name: 'audit-gateway',
  // Serve as the unprivileged role even when the URL logs in as its owner or a superuser.
  role: APP_ROLE,
  // Prepared statements keep one plan. Left to choose, Postgres re-plans a statement on the
  // partitioned events table (drizzle/0008) every time it runs, which costs more than the read:
  // a deep page took 1.7 ms against 0.5 ms with the generic plan (docs/scaling.md#time-partitions).
  // filter.search asks for a plan of its own words (event-reads.ts boundSearch).
  plan_cache_mode: 'force_generic_plan',
};

export type Db = PgDatabase<PgQueryResultHKT>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The rows of `execute`: postgres.js answers with an array of them, PGlite with an object holding one. */
export function resultRows<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}

export type Database = {
  kind: 'postgres' | 'pglite';
  /** Acts as the `audit_gateway` role. */
  db: Db;
  /** Runs one statement and returns its rows, for the few queries Drizzle cannot express. */
  rows<T>(query: SQL): Promise<T[]>;
  /**
   * Runs `fn` in a transaction as the database owner, for maintenance the serving role may not do
   * (creating tenants and keys, pruning). Never used on a request path.
   */
  admin<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Cheap liveness probe for /readyz. */
  ping(timeoutMs: number): Promise<void>;
  /**
   * Runs `fn` unless another gateway on this database is running the job called `job` (an
   * advisory lock held by a transaction of its own while `fn` runs, on Postgres). PGlite
   * has one process (the data directory lock), so it always runs. Resolves to whether it ran.
   */
  exclusive(job: string, fn: () => Promise<void>): Promise<boolean>;
  /** The read replicas and their health as of the last check (none for PGlite or without replicas). */
  replicas(): ReplicaStatus[];
  /**
   * LISTENs on `channel`: on Postgres on a connection of its own (postgres.js reconnects it),
   * hearing every instance; on PGlite in its one session, hearing this process's own commits.
   * `onListening` runs each time the LISTEN is (re)established: notifications sent while it was
   * down are lost, so the caller looks again. Resolves to a function that stops listening.
   */
  listen: (
    channel: string,
    onNotify: (payload: string) => void,
    onListening: () => void,
  ) => Promise<() => Promise<void>>;
  /**
   * NOTIFYs `channel` from inside an `admin` transaction: delivered only if it commits. This
   * process's listeners hear it before `admin` resolves, so the change is seen at this
   * instance's next request; other instances hear it when their LISTEN delivers it.
   */
  notify(tx: Tx, channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
};

/**
 * This process's listeners by channel, and what each admin transaction notified, for a Postgres
 * database: its own notifications reach its LISTEN connection only after a round trip, later
 * than the caller of `admin` would expect to see its change.
 */
class LocalNotifications {
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();
  readonly #pending = new WeakMap<Tx, [channel: string, payload: string][]>();

  add(channel: string, onNotify: (payload: string) => void): () => void {
    const set = this.#listeners.get(channel) ?? new Set();
    this.#listeners.set(channel, set);
    set.add(onNotify);
    return () => set.delete(onNotify);
  }

  /** Runs an admin transaction, then tells this process's listeners what it notified. */
  async run<T>(transaction: (fn: (tx: Tx) => Promise<T>) => Promise<T>, fn: (tx: Tx) => Promise<T>) {
    const notified: [string, string][] = [];
    const result = await transaction((tx) => {
      this.#pending.set(tx, notified);
      return fn(tx);
    });
    for (const [channel, payload] of notified) {
      for (const onNotify of this.#listeners.get(channel) ?? []) onNotify(payload);
    }
    return result;
  }

  sent(tx: Tx, channel: string, payload: string): void {
    this.#pending.get(tx)?.push([channel, payload]);
  }
}

export type OpenOptions = {
  /** Postgres URL; absent means embedded PGlite. */
  url?: string | undefined;
  /** Owner connection for migrations (Postgres only); defaults to `url`. */
  migrationUrl?: string | undefined;
  /** PGlite data directory; `memory://` or undefined for an in-memory database. */
  dataDir?: string | undefined;
  poolSize?: number;
  migrate?: boolean;
  /** Called with every SQL statement Drizzle sends (tests count them). */
  onQuery?: (query: string) => void;
  /** Streaming replicas of `url` that serve reads (Postgres only). */
  replicas?: { urls: readonly string[]; maxLagMs: number; pollMs: number } | undefined;
  /**
   * Told of failures no caller waits for: the COMMIT of a read-only transaction whose answer was
   * already returned (`runTransaction`). Such a failure cannot lose data, but it is worth a log line.
   */
  onBackgroundError?: (error: unknown, what: string) => void;
  /** Postgres: tenant transactions pipelined by `runTransaction` (DATABASE_PIPELINE). */
  pipeline?: boolean;
};

function drizzleLogger(onQuery: ((q: string) => void) | undefined): DrizzleLogger | undefined {
  return onQuery ? { logQuery: (q) => onQuery(q) } : undefined;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts);
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Database> {
  if (opts.migrate !== false) await applyMigrations({ kind: 'postgres', url: opts.migrationUrl ?? url });
  await assertServingRoleIsSafe(url);
  const client = postgres(url, {
    max: opts.poolSize ?? 10,
    // Fail fast when the server is down, so callers get a 503 within seconds instead of hanging.
    connect_timeout: 3,
    // And reconnect soon after it is back: postgres.js's default waits up to 20 s between attempts,
    // and queries queued for a connection wait with it.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
    idle_timeout: 60,
    onnotice: () => {},
    // Belt and braces: even if the database's default is changed after the start-up check, the
    // gateway's own commits stay synchronous.
    connection: { ...servingSession, synchronous_commit: 'on' },
    transform: { undefined: null },
  });
  const handle = (pool: postgres.Sql) => {
    const db = drizzlePostgres({
      client: preparing(pool),
      logger: drizzleLogger(opts.onQuery),
    }) as unknown as Db;
    if (opts.pipeline) pipelines.set(db, { pool, onBackgroundError: opts.onBackgroundError ?? (() => {}) });
    return db;
  };
  const db = handle(client);
  const replicas =
    opts.replicas && opts.replicas.urls.length > 0
      ? new ReplicaSet(client, {
          ...opts.replicas,
          poolSize: opts.poolSize ?? 10,
          session: servingSession,
          handle,
        })
      : undefined;
  if (replicas) {
    attachReplicas(db, replicas);
    await replicas.start();
  }
  let adminClient: postgres.Sql | undefined;
  let jobsClient: postgres.Sql | undefined;
  const local = new LocalNotifications();
  const database: Database = {
    kind: 'postgres',
    db,
    rows: async <T>(query: SQL) => (await db.execute(query)) as unknown as T[],
    admin: async (fn) => {
      adminClient ??= postgres(opts.migrationUrl ?? url, { max: 2, onnotice: () => {}, connect_timeout: 10 });
      // Prepared like the serving pool's, so work that repeats a statement per tenant (a month's
      // drop) can reuse one plan of it (chain-read.ts preferGenericPlans).
      const adminDb = drizzlePostgres({ client: preparing(adminClient) }) as unknown as Db;
      return local.run((f) => adminDb.transaction(f), fn);
    },
    ping: (timeoutMs) =>
      withTimeout(
        client`select 1`.then(() => undefined),
        timeoutMs,
      ),
    // A transaction-scoped lock, so it holds through a pooler in transaction mode (PgBouncer) and
    // goes with the connection if this instance dies. The transaction only waits: under READ
    // COMMITTED it holds no snapshot between statements, so it does not hold back vacuum.
    // Its own connections, so the lock never takes one the job itself needs from the pool.
    exclusive: (job, fn) => {
      jobsClient ??= postgres(url, {
        max: 2,
        connect_timeout: 3,
        onnotice: () => {},
        connection: servingSession,
      });
      return jobsClient.begin(async (tx) => {
        const [row] = await tx<{ got: boolean }[]>`
          select pg_try_advisory_xact_lock(hashtextextended(${`audit-gateway:${job}`}, 0)) as got`;
        if (row?.got) await fn();
        return row?.got === true;
      });
    },
    replicas: () => replicas?.status() ?? [],
    listen: async (channel, onNotify, onListening) => {
      const { unlisten } = await client.listen(channel, onNotify, onListening);
      const removeLocal = local.add(channel, onNotify);
      return async () => {
        removeLocal();
        await unlisten();
      };
    },
    notify: async (tx, channel, payload) => {
      await tx.execute(sql`select pg_notify(${channel}, ${payload})`);
      local.sent(tx, channel, payload);
    },
    close: async () => {
      await Promise.all([
        client.end({ timeout: 5 }),
        adminClient?.end({ timeout: 5 }),
        jobsClient?.end({ timeout: 5 }),
        replicas?.close(),
      ]);
    },
  };
  return database;
}

/** The pools behind the Postgres handles (the primary's and each replica's), for `runTransaction`. */
const pipelines = new WeakMap<
  object,
  { pool: postgres.Sql; onBackgroundError: (error: unknown, what: string) => void }
>();

/**
 * Runs `fn` in a transaction whose first statement is `opening` (the tenant setting), and resolves
 * to what `fn` resolves to. `fn` is also handed the opening's rows: the rows themselves when the
 * opening has run already, or a promise of them when it travels with `fn`'s first statement
 * (awaiting that before the statement would cost the round trip this function saves).
 *
 * On Postgres, BEGIN, the opening and `fn`'s first statement are sent together on a reserved
 * connection (postgres.js writes the queries issued in one tick back to back), so they cost one
 * round trip where `db.transaction` costs three (BEGIN, then the opening, then the statement).
 * The COMMIT of a write is awaited: acknowledged means committed. A READ ONLY transaction has
 * nothing to commit, so its answer is returned as soon as `fn` has it; the connection goes back to
 * the pool once the COMMIT is answered, and a failed COMMIT goes to `onBackgroundError`. On any
 * error the transaction is rolled back (a connection the server closed is left to the pool's
 * reconnect) and the connection released once. `tx` is the Drizzle transaction `db.transaction`
 * would hand in, savepoints (`tx.transaction`) included.
 *
 * PGlite is one in-process session with no round trips to save: `db.transaction`, as before; so
 * is Postgres unless DATABASE_PIPELINE is on.
 */
export async function runTransaction<T>(
  db: Db,
  opening: SQL,
  fn: (tx: Tx, opened: OpeningRows | Promise<OpeningRows>) => Promise<T>,
  config?: PgTransactionConfig,
): Promise<T> {
  const pipeline = pipelines.get(db);
  if (!pipeline) {
    return db.transaction(async (tx) => {
      return fn(tx, resultRows<Record<string, unknown>>(await tx.execute(opening)));
    }, config);
  }
  // Drizzle keeps these internal; a transaction of its own is built from the pool's handle's.
  const session = (db as unknown as { session: DrizzleSession }).session;
  const reserved = await pipeline.pool.reserve();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    reserved.release();
  };
  const client = preparing(withSavepoints(reserved));
  // Typed as a pool's session in Drizzle's declarations; Drizzle itself builds it from a transaction's.
  const txSession = new PostgresJsSession(
    client as never,
    session.dialect,
    session.schema as never,
    session.options,
  );
  const tx = new PostgresJsTransaction(
    session.dialect,
    txSession as never,
    session.schema as never,
  ) as unknown as Tx;
  const query = session.dialect.sqlToQuery(opening);
  // Issued in this order in this tick, so they reach the connection before fn's first statement.
  const begin = reserved.unsafe(beginStatement(config)).execute();
  session.options.logger?.logQuery(query.sql, query.params);
  const opened = client
    .unsafe(query.sql, query.params as never[])
    .execute() as unknown as Promise<OpeningRows>;
  // Awaited below; these keep a failure from being reported as unhandled before then.
  begin.catch(() => {});
  opened.catch(() => {});
  let result: T;
  try {
    result = await fn(tx, opened);
    await begin;
    await opened;
  } catch (error) {
    // A failed BEGIN or opening makes every later statement fail too: report the first cause.
    const cause = (await firstFailure(begin, opened)) ?? error;
    await reserved.unsafe('rollback').catch(() => {});
    release();
    throw cause;
  }
  const commit = reserved.unsafe('commit').execute();
  if (config?.accessMode === 'read only') {
    commit.then(release, (error) => {
      release();
      pipeline.onBackgroundError(error, 'commit of a read-only transaction');
    });
    return result;
  }
  try {
    await commit;
  } finally {
    release();
  }
  return result;
}

/** The rows of a transaction's opening statement. */
export type OpeningRows = Record<string, unknown>[];

/** What `runTransaction` reads of a Drizzle postgres-js handle's session. */
type DrizzleSession = { dialect: PgDialect; schema: unknown; options: { logger?: DrizzleLogger } };

/** `BEGIN` with the transaction's options, as Drizzle would set them. */
function beginStatement(config: PgTransactionConfig | undefined): string {
  const words = ['begin'];
  if (config?.isolationLevel) words.push('isolation level', config.isolationLevel);
  if (config?.accessMode) words.push(config.accessMode);
  if (typeof config?.deferrable === 'boolean')
    words.push(config.deferrable ? 'deferrable' : 'not deferrable');
  return words.join(' ');
}

async function firstFailure(...queries: Promise<unknown>[]): Promise<unknown> {
  for (const query of queries) {
    const failure = await query.then(
      () => undefined,
      (error: unknown) => error ?? new Error('query failed'),
    );
    if (failure !== undefined) return failure;
  }
  return undefined;
}

/**
 * A reserved connection with the `savepoint` postgres.js gives a transaction, which Drizzle's
 * `tx.transaction` calls: a nested transaction is a savepoint, released when its function resolves
 * and rolled back to when it throws.
 */
function withSavepoints(reserved: postgres.ReservedSql): postgres.TransactionSql {
  let count = 0;
  const savepoint = async (fn: (sql: postgres.TransactionSql) => unknown) => {
    const name = `s${count++}`;
    await reserved.unsafe(`savepoint ${name}`);
    try {
      const result = await fn(wrapped);
      await reserved.unsafe(`release savepoint ${name}`);
      return result;
    } catch (error) {
      await reserved.unsafe(`rollback to savepoint ${name}`);
      throw error;
    }
  };
  const wrapped = new Proxy(reserved, {
    get: (target, property, receiver) =>
      property === 'savepoint' ? savepoint : Reflect.get(target, property, receiver),
  }) as unknown as postgres.TransactionSql;
  return wrapped;
}

/** Statements with more parameters than this (multi-row inserts) are not kept prepared. */
const PREPARE_MAX_PARAMETERS = 100;

/**
 * Drizzle asks postgres.js to prepare only the queries it names, so every other statement with
 * parameters costs two round trips (describe, then bind and execute) and a fresh parse and plan
 * on the server. This view of the client (and of each transaction it opens) prepares them: the
 * statement is parsed once per connection and reused by its text. Multi-row inserts stay
 * unprepared; each row count is a different text, and each would stay cached on every connection.
 */
function preparing<T extends postgres.Sql | postgres.TransactionSql>(sql: T): T {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (
          query: string,
          args: postgres.ParameterOrJSON<never>[] = [],
          options: postgres.UnsafeQueryOptions = {},
        ) =>
          target.unsafe(query, args, {
            ...options,
            prepare: args.length > 0 && args.length <= PREPARE_MAX_PARAMETERS ? true : options.prepare,
          });
      }
      if (property === 'begin' || property === 'savepoint') {
        const open = Reflect.get(target, property, receiver) as (...args: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: postgres.TransactionSql) => unknown;
          return open.call(target, ...args, (tx: postgres.TransactionSql) => fn(preparing(tx)));
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

async function openPglite(opts: OpenOptions): Promise<Database> {
  const inMemory = !opts.dataDir || opts.dataDir.startsWith('memory://');
  let releaseLock = async () => {};
  let dataDir: string | undefined;
  if (!inMemory && opts.dataDir) {
    dataDir = path.resolve(opts.dataDir, 'pglite');
    mkdirSync(dataDir, { recursive: true });
    releaseLock = await acquireDataDirLock(path.resolve(opts.dataDir));
  }
  const client = await createPglite(dataDir);
  if (opts.migrate !== false) await applyMigrations({ kind: 'pglite', client });
  // PGlite is one session: switch it to the serving role for good once the schema is in place.
  await client.exec(`SET ROLE ${APP_ROLE}`);
  const db = drizzlePglite({ client, logger: drizzleLogger(opts.onQuery) }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    rows: async <T>(query: SQL) => ((await db.execute(query)) as unknown as { rows: T[] }).rows,
    // One in-process session: step out of the serving role for this transaction only.
    admin: (fn) =>
      db.transaction(async (tx) => {
        await tx.execute(sql`set local role none`);
        return fn(tx);
      }),
    ping: async () => {
      await client.query('select 1');
    },
    exclusive: async (_job, fn) => {
      await fn();
      return true;
    },
    replicas: () => [],
    // PGlite hands a NOTIFY to its own session's listeners as the transaction commits (before
    // `admin` resolves), so the same pg_notify serves one process as it serves many on Postgres.
    listen: async (channel, onNotify, onListening) => {
      const unlisten = await client.listen(channel, onNotify);
      onListening();
      return () => unlisten();
    },
    notify: async (tx, channel, payload) => {
      await tx.execute(sql`select pg_notify(${channel}, ${payload})`);
    },
    close: async () => {
      await client.close();
      await releaseLock();
    },
  };
}

/**
 * A new database (in memory, or an empty data directory) starts from the packed template when
 * this install has one; if it cannot be loaded, PGlite creates the database itself.
 */
async function createPglite(dataDir: string | undefined): Promise<PGlite> {
  const template = dataDir && readdirSync(dataDir).length > 0 ? undefined : readPgliteTemplate();
  if (template) {
    try {
      return await PGlite.create({
        ...(dataDir ? { dataDir } : {}),
        loadDataDir: template,
        extensions: PGLITE_EXTENSIONS,
      });
    } catch {
      // Start over in an empty directory: it was empty before this call.
      if (dataDir) {
        rmSync(dataDir, { recursive: true, force: true });
        mkdirSync(dataDir, { recursive: true });
      }
    }
  }
  return PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: PGLITE_EXTENSIONS });
}

type ServingRole = {
  current_user: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  owns_events: boolean;
  can_update: boolean;
  fsync: string;
  synchronous_commit: string;
};

/**
 * Refuses to serve as a role that could bypass row-level security or rewrite events, or from a
 * server that acknowledges commits before they are durable. Runs on a session of its own with
 * the server's and the database's settings as they are (the pool overrides synchronous_commit,
 * which would hide a misconfigured database).
 */
async function assertServingRoleIsSafe(url: string): Promise<void> {
  const probe = postgres(url, {
    max: 1,
    connect_timeout: 10,
    onnotice: () => {},
    connection: servingSession,
  });
  let role: ServingRole | undefined;
  try {
    [role] = await probe<ServingRole[]>`
      select current_user,
             r.rolsuper,
             r.rolbypassrls,
             pg_has_role(current_user, c.relowner, 'USAGE') as owns_events,
             has_table_privilege('audit_events', 'UPDATE') or has_table_privilege('audit_events', 'DELETE')
               or has_table_privilege('audit_events', 'TRUNCATE') as can_update,
             current_setting('fsync') as fsync,
             current_setting('synchronous_commit') as synchronous_commit
        from pg_roles r, pg_class c
       where r.rolname = current_user and c.oid = 'public.audit_events'::regclass`;
  } finally {
    await probe.end({ timeout: 5 });
  }
  const problems: string[] = [];
  if (!role) throw new Error('Could not read the serving role from the database');
  if (role.rolsuper) problems.push(`role ${role.current_user} is a superuser`);
  if (role.rolbypassrls) problems.push(`role ${role.current_user} bypasses row-level security`);
  if (role.owns_events) problems.push(`role ${role.current_user} owns the audit_events table`);
  if (role.can_update) problems.push(`role ${role.current_user} may UPDATE, DELETE or TRUNCATE events`);
  // An acknowledged event must survive a crash of the database server.
  if (role.fsync !== 'on') problems.push('the server runs with fsync=off, so committed events can be lost');
  if (role.synchronous_commit === 'off') {
    problems.push('synchronous_commit is off, so a commit is acknowledged before it is durable');
  }
  if (problems.length > 0) throw new Error(`Refusing to serve from this database: ${problems.join('; ')}.`);
}
