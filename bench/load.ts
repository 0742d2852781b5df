// Loads the benchmark dataset into a database of its own: the project's migrations, then a bulk
// COPY of every table appendEvents maintains (events with their canonical bytes and chained
// hashes, chain heads, signed checkpoints, the filter catalog), exactly as the gateway would have
// written them had every event arrived through its API. Runs as the superuser, which bypasses
// row-level security; the append-only trigger only guards UPDATE, DELETE and TRUNCATE.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import postgres from 'postgres';
import { GENESIS_HASH, sealEvent } from '../src/audit/chain.ts';
import { type CheckpointPolicy, checkpointDue } from '../src/audit/chain-service.ts';
import { ChainSigner } from '../src/audit/signer.ts';
import { APP_ROLE } from '../src/db/client.ts';
import { applyMigrations } from '../src/db/migrate.ts';
import {
  DATASET_START,
  GENERATOR_VERSION,
  INGEST_TENANTS,
  type PlannedEvent,
  planDataset,
  Rng,
  type TenantPlan,
  tenantEvents,
} from './dataset.ts';

/** The login role the gateway and the floor connect as: a member of audit_gateway, nothing more. */
export const BENCH_LOGIN_ROLE = 'audit_bench';

/** The gateway's defaults (config.ts), which the bench gateway runs with. */
/** The gateway's default policy (CHECKPOINT_EVERY_EVENTS, CHECKPOINT_INTERVAL_SECONDS). */
const CHECKPOINT_POLICY: CheckpointPolicy = { everyEvents: 1000, intervalSeconds: 3600 };
const CHECKPOINT_INTERVAL_MS = CHECKPOINT_POLICY.intervalSeconds * 1000;
/** The gateway sweeps idle tenants once a minute; on average it signs half a minute late. */
const SWEEP_DELAY_MS = 30_000;

export type BenchDatabase = {
  name: string;
  /** The server's maintenance database, where the bench database is created and dropped. */
  serverUrl: string;
  /** The bench database, as the superuser (loading, migrations, admin). */
  ownerUrl: string;
  /** The bench database, as the unprivileged login role (gateway and floor). */
  appUrl: string;
};

export function benchDatabase(serverUrl: string, large: boolean, database?: string): BenchDatabase {
  const name = database ?? (large ? 'audit_bench_10m' : 'audit_bench');
  if (!/^audit_bench[a-z0-9_]*$/.test(name))
    throw new Error(`bench database ${name}: must start with audit_bench (the bench drops and recreates it)`);
  const at = (user: string | null) => {
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    if (user) {
      url.username = user;
      url.password = '';
    }
    return url.toString();
  };
  return { name, serverUrl, ownerUrl: at(null), appUrl: at(BENCH_LOGIN_ROLE) };
}

/** Fixed secrets derived from the seed, so a reused dataset's checkpoints and cursors stay valid. */
export function benchSecrets(seed: number): { tokenSecret: string; signingKey: string } {
  const derive = (label: string) => createHash('sha256').update(`audit-bench:${label}:${seed}`).digest();
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
  const pkcs8 = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    derive('signing-key'),
  ]);
  return { tokenSecret: derive('token-secret').toString('base64url'), signingKey: pkcs8.toString('base64') };
}

export type DatasetMeta = {
  version: number;
  seed: number;
  events: number;
  tenants: number;
  loadedAt: string;
  loadSeconds: number;
};

type Log = (line: string) => void;

/**
 * Makes sure the bench database holds the dataset for (events, seed): loads it from scratch
 * unless `reuse` is set and the database already records that exact dataset.
 */
export async function ensureDataset(
  db: BenchDatabase,
  opts: { events: number; seed: number; reuse: boolean; log: Log },
): Promise<{ meta: DatasetMeta; reused: boolean }> {
  const server = postgres(db.serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await server<{ comment: string | null }[]>`
      select shobj_description(oid, 'pg_database') as comment from pg_database where datname = ${db.name}`;
    const existing = row ? parseMeta(row.comment) : null;
    if (
      opts.reuse &&
      existing &&
      existing.version === GENERATOR_VERSION &&
      existing.seed === opts.seed &&
      existing.events === opts.events
    ) {
      opts.log(
        `reusing ${db.name}: ${existing.events} events, seed ${existing.seed}, loaded ${existing.loadedAt}`,
      );
      // A dataset loaded by older code gets this code's migrations (and their backfills) now,
      // before anything here reads the schema, rather than at the gateway's start.
      const migrating = performance.now();
      await applyMigrations({ kind: 'postgres', url: db.ownerUrl });
      opts.log(`  migrations applied (${((performance.now() - migrating) / 1000).toFixed(1)}s)`);
      return { meta: existing, reused: true };
    }
    opts.log(`${row ? 'recreating' : 'creating'} database ${db.name}`);
    await server.unsafe(`drop database if exists "${db.name}" with (force)`);
    await server.unsafe(`create database "${db.name}"`);
  } finally {
    await server.end();
  }
  const started = performance.now();
  await applyMigrations({ kind: 'postgres', url: db.ownerUrl });
  const meta = await load(db, opts);
  const done: DatasetMeta = { ...meta, loadSeconds: Math.round((performance.now() - started) / 100) / 10 };
  const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await owner.unsafe(`comment on database "${db.name}" is ${literal(JSON.stringify(done))}`);
  } finally {
    await owner.end();
  }
  opts.log(`loaded ${done.events} events in ${done.loadSeconds}s`);
  return { meta: done, reused: false };
}

/**
 * Empties the tenants the ingest scenarios write to (events, chain, catalog), so each run starts
 * from the loaded dataset and what one run wrote never slows the next one's reads. Deleting
 * events takes the prune marker the append-only trigger asks for.
 */
export async function resetIngestTenants(db: BenchDatabase, log: Log): Promise<void> {
  const sql = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const removed = await sql.begin(async (tx) => {
      const ids = (
        await tx<{ id: number }[]>`select id from tenants where slug = any(${Object.values(INGEST_TENANTS)})`
      ).map((r) => r.id);
      await tx`select set_config('audit.pruning', 'on', true)`;
      const events = await tx`delete from audit_events where tenant_id = any(${ids})`;
      for (const table of ['chain_checkpoints', 'chain_heads', 'audit_catalog', ...COUNT_ROLLUPS]) {
        await tx.unsafe(`delete from "${table}" where tenant_id = any($1)`, [ids]);
      }
      return events.count;
    });
    if (removed > 0) {
      await sql`vacuum (analyze) audit_events`;
      log(`removed ${removed} events written by earlier ingest runs`);
    }
  } finally {
    await sql.end();
  }
}

function parseMeta(comment: string | null): DatasetMeta | null {
  if (!comment) return null;
  try {
    return JSON.parse(comment) as DatasetMeta;
  } catch {
    return null;
  }
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

async function load(
  db: BenchDatabase,
  opts: { events: number; seed: number; log: Log },
): Promise<Omit<DatasetMeta, 'loadSeconds'>> {
  const sql = postgres(db.ownerUrl, {
    max: 3,
    onnotice: () => {},
    // Loading only: nothing here is acknowledged to anyone, and index builds want memory.
    connection: { synchronous_commit: 'off', maintenance_work_mem: '512MB' } as Record<string, string>,
  });
  try {
    await ensureLoginRole(sql);
    const plan = planDataset(opts.events, opts.seed);
    const ids = await createTenants(sql, plan.tenants, opts.seed);
    // On a partitioned table (drizzle/0008), every month of the dataset gets its partition before
    // the COPY; otherwise all of it would land in the default partition.
    await sql`select public.audit_events_add_partitions(${new Date(DATASET_START)}, now() + interval '3 months')`;
    // Building the secondary indexes once after the COPY is several times faster than keeping
    // them up to date row by row. Their definitions are read back from the migrated schema, so
    // they come back exactly as the migrations made them.
    const indexes = await sql<{ indexname: string; indexdef: string }[]>`
      select indexname, indexdef from pg_indexes
       where schemaname = 'public' and tablename = 'audit_events' and indexname <> 'audit_events_pkey'`;
    for (const ix of indexes) await sql.unsafe(`drop index "${ix.indexname}"`);

    const signer = ChainSigner.fromConfig(benchSecrets(opts.seed).signingKey);
    const events = await copyWriter(sql, 'audit_events', EVENT_COLUMNS);
    const checkpoints = await copyWriter(sql, 'chain_checkpoints', CHECKPOINT_COLUMNS);
    const heads: HeadRow[] = [];
    const catalog: { tenant_id: number; target_kind: string; action: string; actor_type: string }[] = [];
    const started = performance.now();
    let written = 0;
    let nextReport = opts.events / 10;
    for (const tenant of plan.tenants) {
      const id = ids.get(tenant.slug) as number;
      const chain = new ChainWriter(id, signer);
      const kinds = new Set<string>();
      for (const event of tenantEvents(tenant, id)) {
        for (const c of chain.beforeAppend(event.receivedAt.getTime()))
          await checkpoints.push(checkpointLine(c));
        const sealed = chain.append(event);
        await events.push(eventLine(event, sealed.canonical, sealed.hash));
        for (const c of chain.afterAppend(event.receivedAt.getTime()))
          await checkpoints.push(checkpointLine(c));
        kinds.add(`${event.target?.kind ?? ''}\u0000${event.action}\u0000${event.actor?.type ?? ''}`);
        written += 1;
        if (written >= nextReport) {
          const seconds = (performance.now() - started) / 1000;
          opts.log(`  ${written} events (${Math.round(written / seconds)}/s)`);
          nextReport += opts.events / 10;
        }
      }
      for (const c of chain.finish()) await checkpoints.push(checkpointLine(c));
      heads.push(chain.head());
      for (const k of kinds) {
        const [target_kind, action, actor_type] = k.split('\u0000') as [string, string, string];
        catalog.push({ tenant_id: id, target_kind, action, actor_type });
      }
    }
    await Promise.all([events.end(), checkpoints.end()]);
    opts.log(`copied ${written} events and ${checkpoints.count} checkpoints`);
    for (let i = 0; i < heads.length; i += 1000)
      await sql`insert into chain_heads ${sql(heads.slice(i, i + 1000))}`;
    for (let i = 0; i < catalog.length; i += 1000)
      await sql`insert into audit_catalog ${sql(catalog.slice(i, i + 1000))}`;

    // The count rollups, as appendEvents keeps them: the same statements as migration 0006's
    // backfill, set-based over everything just copied.
    const rollups = performance.now();
    await fillCountRollups(sql);
    opts.log(`  count rollups (${((performance.now() - rollups) / 1000).toFixed(1)}s)`);

    for (const ix of indexes) {
      const t = performance.now();
      // A partitioned table's index reads `ON ONLY` (the parent alone); built for every partition.
      await sql.unsafe(ix.indexdef.replace(' ON ONLY ', ' ON '));
      opts.log(`  index ${ix.indexname} (${((performance.now() - t) / 1000).toFixed(1)}s)`);
    }
    // Sets hint bits and the visibility map now, so the first benchmark reads do not write.
    for (const table of ['audit_events', 'chain_checkpoints', 'chain_heads', 'audit_catalog', 'tenants']) {
      await sql.unsafe(`vacuum (analyze) "${table}"`);
    }
    opts.log('vacuumed and analyzed');
    return {
      version: GENERATOR_VERSION,
      seed: opts.seed,
      events: written,
      tenants: plan.tenants.length,
      loadedAt: new Date().toISOString(),
    };
  } finally {
    await sql.end();
  }
}

/** The count rollups of migration 0006 (src/audit/repository/count-rollups.ts keeps them at ingest). */
const COUNT_ROLLUPS = ['audit_counts_hour_action', 'audit_counts_day_actor', 'audit_counts_month_actor'];

/** Fills the count rollups from every event, as migration 0006's backfill does (in key order). */
async function fillCountRollups(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`
    insert into audit_counts_hour_action (tenant_id, hour, action, events)
    select tenant_id, date_trunc('hour', occurred_at at time zone 'UTC') at time zone 'UTC', action, count(*)
      from audit_events group by 1, 2, 3 order by 1, 2, 3`);
  await sql.unsafe(`
    insert into audit_counts_day_actor (tenant_id, day, actor_id, events)
    select tenant_id, date_trunc('day', occurred_at at time zone 'UTC') at time zone 'UTC', coalesce(actor_id, ''), count(*)
      from audit_events group by 1, 2, 3 order by 1, 2, 3`);
  await sql.unsafe(`
    insert into audit_counts_month_actor (tenant_id, month, actor_id, events)
    select tenant_id, date_trunc('month', day at time zone 'UTC') at time zone 'UTC', actor_id, sum(events)
      from audit_counts_day_actor group by 1, 2, 3 order by 1, 2, 3`);
  for (const table of COUNT_ROLLUPS) await sql.unsafe(`vacuum (analyze) "${table}"`);
}

async function ensureLoginRole(sql: postgres.Sql): Promise<void> {
  // Roles are cluster-wide: another run (or database) may have made it already.
  await sql.unsafe(`
    do $$
    begin
      if not exists (select from pg_roles where rolname = '${BENCH_LOGIN_ROLE}') then
        create role ${BENCH_LOGIN_ROLE} login nosuperuser nobypassrls nocreatedb nocreaterole;
      end if;
    exception when duplicate_object or unique_violation then
      null;
    end
    $$`);
  await sql.unsafe(`grant ${APP_ROLE} to ${BENCH_LOGIN_ROLE}`);
}

/** Creates the tenants in a shuffled order (ids say nothing about size), then the ingest ones. */
async function createTenants(
  sql: postgres.Sql,
  tenants: TenantPlan[],
  seed: number,
): Promise<Map<string, number>> {
  const rng = new Rng(seed ^ 0x5eed);
  const slugs = tenants.map((t) => t.slug);
  for (let i = slugs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [slugs[i], slugs[j]] = [slugs[j] as string, slugs[i] as string];
  }
  slugs.push(...Object.values(INGEST_TENANTS));
  const rows = await sql<{ id: number; slug: string }[]>`
    insert into tenants ${sql(slugs.map((slug) => ({ slug })))} returning id, slug`;
  return new Map(rows.map((r) => [r.slug, r.id]));
}

// ---------------------------------------------------------------------------------------------
// The chain, as appendEvents and the checkpoint sweep would have built it

type Checkpoint = {
  statement: string;
  signature: string;
  tenant: number;
  seq: number;
  hash: string;
  time: Date;
  kid: string;
};
type HeadRow = {
  tenant_id: number;
  seq: number;
  hash: Buffer;
  checkpoint_seq: number;
  checkpoint_at: Date | null;
};

/**
 * One tenant's chain. Each event is treated as its own append (the gateway checks after every
 * commit whether a checkpoint is due: every 1000 events, or an hour after the last one), and the
 * minute sweep signs a head that moved and then went quiet for an hour.
 */
class ChainWriter {
  #seq = 0;
  #hash = GENESIS_HASH;
  #checkpointSeq = 0;
  #checkpointAt: number | null = null;
  #lastAt = 0;

  constructor(
    private readonly tenantId: number,
    private readonly signer: ChainSigner,
  ) {}

  beforeAppend(at: number): Checkpoint[] {
    const due =
      this.#checkpointAt === null ? null : this.#checkpointAt + CHECKPOINT_INTERVAL_MS + SWEEP_DELAY_MS;
    return this.#seq > this.#checkpointSeq && due !== null && due <= at ? [this.#sign(due)] : [];
  }

  append(event: PlannedEvent): { canonical: string; hash: string } {
    const sealed = sealEvent(event, this.#hash);
    this.#seq = event.sequence;
    this.#hash = sealed.hash;
    this.#lastAt = event.receivedAt.getTime();
    return sealed;
  }

  afterAppend(at: number): Checkpoint[] {
    const head = {
      seq: this.#seq,
      hash: this.#hash,
      checkpointSeq: this.#checkpointSeq,
      checkpointAt: this.#checkpointAt === null ? null : new Date(this.#checkpointAt),
    };
    return checkpointDue(head, new Date(at), CHECKPOINT_POLICY) ? [this.#sign(at)] : [];
  }

  /** The sweep's last word on a tenant whose head moved after its last checkpoint. */
  finish(): Checkpoint[] {
    if (this.#seq <= this.#checkpointSeq) return [];
    const due = Math.max(this.#lastAt, (this.#checkpointAt ?? 0) + CHECKPOINT_INTERVAL_MS) + SWEEP_DELAY_MS;
    return [this.#sign(due)];
  }

  head(): HeadRow {
    return {
      tenant_id: this.tenantId,
      seq: this.#seq,
      hash: Buffer.from(this.#hash, 'hex'),
      checkpoint_seq: this.#checkpointSeq,
      checkpoint_at: this.#checkpointAt === null ? null : new Date(this.#checkpointAt),
    };
  }

  #sign(at: number): Checkpoint {
    const time = new Date(at);
    const signed = this.signer.sign({
      type: 'checkpoint',
      tenant: this.tenantId,
      seq: this.#seq,
      hash: this.#hash,
      time: time.toISOString(),
    });
    this.#checkpointSeq = this.#seq;
    this.#checkpointAt = at;
    return {
      statement: signed.statement,
      signature: signed.signature,
      tenant: this.tenantId,
      seq: this.#seq,
      hash: this.#hash,
      time,
      kid: signed.parsed.kid,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// COPY text format

const EVENT_COLUMNS = [
  'tenant_id',
  'seq',
  'id',
  'action',
  'name',
  'title',
  'description',
  'actor_id',
  'actor_email',
  'actor_name',
  'actor_type',
  'actor_company',
  'group_id',
  'target_kind',
  'target_id',
  'target_name',
  'target_email',
  'target_company',
  'additional_id',
  'feature_name',
  'feature_metas',
  'ip_address',
  'occurred_at',
  'sent_at',
  'received_at',
  'metadata',
  'idempotency_key',
  'request_hash',
  'canonical',
  'hash',
];

const CHECKPOINT_COLUMNS = [
  'tenant_id',
  'kind',
  'seq',
  'hash',
  'signed_at',
  'key_id',
  'statement',
  'signature',
];

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One field in COPY's text format: \N for NULL, backslash escapes for the four special characters. */
function field(value: string | null): string {
  if (value === null) return '\\N';
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\n\r\t]/g, (c) => ESCAPES[c] as string) : value;
}

const bytea = (hex: string) => `\\\\x${hex}`;

/** The row toInsertRow() in the repository would have made, in COPY form. */
function eventLine(e: PlannedEvent, canonical: string, hash: string): string {
  const a = e.actor;
  const t = e.target;
  return `${[
    String(e.tenantId),
    String(e.sequence),
    e.id,
    field(e.action),
    field(e.name),
    field(e.title),
    field(e.description),
    field(a?.id ?? null),
    field(a?.email ?? null),
    field(a?.name ?? null),
    field(a?.type ?? null),
    field(a?.company ?? null),
    field(e.groupId),
    field(t?.kind ?? null),
    field(t?.id ?? null),
    field(t?.name ?? null),
    field(t?.email ?? null),
    field(t?.company ?? null),
    field(e.additionalId),
    field(e.feature?.name ?? null),
    field(e.feature ? JSON.stringify(e.feature.metas) : null),
    field(e.ipAddress),
    e.occurredAt.toISOString(),
    e.sentAt ? e.sentAt.toISOString() : '\\N',
    e.receivedAt.toISOString(),
    field(JSON.stringify(e.metadata)),
    '\\N',
    '\\N',
    field(canonical),
    bytea(hash),
  ].join('\t')}\n`;
}

function checkpointLine(c: Checkpoint): string {
  return `${[
    String(c.tenant),
    'checkpoint',
    String(c.seq),
    bytea(c.hash),
    c.time.toISOString(),
    field(c.kid),
    field(c.statement),
    bytea(Buffer.from(c.signature, 'base64').toString('hex')),
  ].join('\t')}\n`;
}

/** A COPY … FROM STDIN stream that buffers lines into large writes and honours backpressure. */
async function copyWriter(sql: postgres.Sql, table: string, columns: string[]) {
  const stream = await sql
    .unsafe(`copy "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) from stdin`)
    .writable();
  let chunk: string[] = [];
  let size = 0;
  let count = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const ok = stream.write(chunk.join(''));
    chunk = [];
    size = 0;
    if (!ok) await once(stream, 'drain');
  };
  return {
    get count() {
      return count;
    },
    async push(line: string) {
      chunk.push(line);
      size += line.length;
      count += 1;
      if (size >= 1 << 20) await flush();
    },
    async end() {
      await flush();
      stream.end();
      await finished(stream);
    },
  };
}
