// `npm run bench:index-cost -- --database audit_bench`: what each index on audit_events costs an
// append, and which read it serves (issue 14, "Ingest"). On a loaded bench dataset:
//
// - Cost: a scratch copy of the table (same columns, no triggers) holds `--base` events of the
//   dataset and one index at a time (or none, or all). A batch of `--rows` fresh events (new ids
//   and sequence numbers) is inserted in one `INSERT … SELECT` and rolled back,
//   `--rounds` times, each index's median taken; its cost per event is its median minus that of
//   the bare table. The backend's CPU time is not exposed, so the figure is wall time of one
//   statement on one backend: CPU plus buffer reads, the same for every index.
// - Use: for each secondary index, a read it exists for (the gateway's own filter shape, on the
//   largest tenant) is timed with the index and again after `DROP INDEX` inside a transaction
//   that is rolled back.
//
// Prints two tables. Needs a superuser URL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres);
// works only in a database whose name starts with audit_bench, and leaves nothing behind.
import { Command } from 'commander';
import postgres from 'postgres';

type Options = { database: string; rows: number; base: number; rounds: number };
const int = (v: string) => Number.parseInt(v, 10);
const options = new Command('bench:index-cost')
  .option('--database <name>', 'a loaded bench database', 'audit_bench')
  .option('--rows <n>', 'events per measured insert', int, 5000)
  .option('--base <n>', 'events already in the scratch table', int, 200_000)
  .option('--rounds <n>', 'measured inserts per index', int, 5)
  .parse()
  .opts<Options>();
if (!options.database.startsWith('audit_bench')) throw new Error('--database must start with audit_bench');

const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
url.pathname = `/${options.database}`;
const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });

const SCRATCH = 'bench_index_cost';
const SOURCE = 'bench_index_cost_rows';

type Index = { name: string; definition: string };
const indexes = await sql<Index[]>`
  select indexname as name, indexdef as definition from pg_indexes
   where schemaname = 'public' and tablename = 'audit_events' order by indexname`;

/** The index's definition on the scratch table. */
const onScratch = (i: Index) =>
  i.definition
    // A partitioned table's index reads `ON ONLY`; the scratch table is a plain one.
    .replace(/ ON (ONLY )?public\.audit_events /, ' ON public.audit_events ')
    .replace(`INDEX ${i.name} ON public.audit_events`, `INDEX ${SCRATCH}_${i.name} ON public.${SCRATCH}`)
    .replace(/^CREATE UNIQUE INDEX/, 'CREATE INDEX');

async function setUp(): Promise<void> {
  await tearDown();
  await sql.unsafe(`create table ${SCRATCH} (like audit_events including defaults)`);
  await sql.unsafe(`insert into ${SCRATCH} select * from audit_events order by tenant_id, seq limit $1`, [
    options.base,
  ]);
  // Fresh rows: new ids and sequence numbers far above the dataset's, so no unique index objects.
  await sql.unsafe(
    `create table ${SOURCE} as select * from audit_events order by tenant_id, seq desc limit $1`,
    [options.rows],
  );
  await sql.unsafe(`update ${SOURCE} set id = gen_random_uuid(), seq = seq + 1000000000,
      idempotency_key = case when idempotency_key is null then null else md5(random()::text) end`);
  await sql.unsafe(`vacuum analyze ${SCRATCH}`);
}

async function tearDown(): Promise<void> {
  await sql.unsafe(`drop table if exists ${SCRATCH}, ${SOURCE}`);
}

/** Median wall time (ms) of inserting the fresh rows, rolled back each time. */
async function timeInsert(): Promise<number> {
  const times: number[] = [];
  for (let round = 0; round < options.rounds + 1; round++) {
    const took = await sql
      .begin(async (tx) => {
        const start = performance.now();
        await tx.unsafe(`insert into ${SCRATCH} select * from ${SOURCE}`);
        const ms = performance.now() - start;
        throw Object.assign(new Error('rollback'), { ms });
      })
      .catch((e: { ms?: number }) => {
        if (e.ms === undefined) throw e;
        return e.ms;
      });
    if (round > 0) times.push(took); // the first warms the caches
    await sql.unsafe(`vacuum ${SCRATCH}`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

async function costs(): Promise<{ name: string; ms: number }[]> {
  const results: { name: string; ms: number }[] = [];
  results.push({ name: '(none)', ms: await timeInsert() });
  for (const i of indexes) {
    await sql.unsafe(onScratch(i));
    results.push({ name: i.name, ms: await timeInsert() });
    await sql.unsafe(`drop index ${SCRATCH}_${i.name}`);
  }
  for (const i of indexes) await sql.unsafe(onScratch(i));
  results.push({ name: '(all)', ms: await timeInsert() });
  return results;
}

// ---------------------------------------------------------------------------------------------
// Which read each index serves

type Probe = { index: string; serves: string; query: string; params: (string | number)[] };

async function probes(): Promise<Probe[]> {
  const [largest] = await sql<{ tenant_id: number }[]>`
    select tenant_id from chain_heads order by seq desc limit 1`;
  if (!largest) throw new Error('the dataset is empty');
  const t = largest.tenant_id;
  // The rarest value that still fills a page: the reads an index is for (without it, the
  // newest-first walk passes most of the tenant before it finds 50).
  const common = async (column: string) => {
    const [row] = await sql.unsafe<{ v: string }[]>(
      `select ${column} as v from audit_events where tenant_id = $1 and ${column} is not null
        group by 1 having count(*) >= 50 order by count(*), 1 limit 1`,
      [t],
    );
    return row?.v ?? '';
  };
  const page = 'order by occurred_at desc, id desc limit 50';
  const probe = (index: string, serves: string, where: string, value: string | number): Probe => ({
    index,
    serves,
    query: `select id from audit_events where tenant_id = $1 and ${where} ${page}`,
    params: [t, value],
  });
  return [
    {
      index: 'audit_events_time_idx',
      serves: 'any listing newest first, a time window, availableFilters',
      query: `select id from audit_events where tenant_id = $1 and occurred_at < $2 ${page}`,
      params: [t, '2026-09-01T00:00:00Z'],
    },
    probe('audit_events_action_idx', 'filter.actions', 'action = $2', await common('action')),
    probe(
      'audit_events_actor_idx',
      'filter.actorIds, order by actor',
      "coalesce(actor_id, '') = $2",
      await common('actor_id'),
    ),
    probe(
      'audit_events_actor_email_idx',
      'filter.actorEmails (MadKudu, Mural)',
      'actor_email = $2',
      await common('actor_email'),
    ),
    probe(
      'audit_events_group_idx',
      'filter.groupIds (Wasabi)',
      "coalesce(group_id, '') = $2",
      await common('group_id'),
    ),
    probe(
      'audit_events_target_kind_idx',
      'filter.targetKinds',
      "coalesce(target_kind, '') = $2",
      await common('target_kind'),
    ),
    probe('audit_events_target_id_idx', 'filter.targetIds', 'target_id = $2', await common('target_id')),
    probe('audit_events_ip_idx', 'filter.ipAddresses', 'ip_address = $2', await common('ip_address')),
  ];
}

/** Median ms of a probe, over a few runs after one to warm the caches. */
async function timeProbe(run: (q: string, p: (string | number)[]) => Promise<unknown>, p: Probe) {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const start = performance.now();
    await run(p.query, p.params);
    if (i > 0) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[1] as number;
}

async function uses(): Promise<{ probe: Probe; withIndex: number; without: number }[]> {
  const results: { probe: Probe; withIndex: number; without: number }[] = [];
  for (const p of await probes()) {
    const withIndex = await timeProbe((q, params) => sql.unsafe(q, params), p);
    const without = await sql
      .begin(async (tx) => {
        await tx.unsafe(`drop index ${p.index}`);
        const ms = await timeProbe((q, params) => tx.unsafe(q, params), p);
        throw Object.assign(new Error('rollback'), { ms });
      })
      .catch((e: { ms?: number }) => {
        if (e.ms === undefined) throw e;
        return e.ms;
      });
    results.push({ probe: p, withIndex, without });
  }
  return results;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

try {
  await setUp();
  const measured = await costs();
  const none = measured[0]?.ms ?? 0;
  const perEvent = (ms: number) => ((ms * 1000) / options.rows).toFixed(1);
  console.log(
    `\nInsert of ${options.rows} events into a table of ${options.base} (median of ${options.rounds}, rolled back):\n`,
  );
  console.log(
    table(
      ['indexes', 'ms per insert', 'µs per event', 'µs per event over none'],
      measured.map((m) => [
        m.name,
        m.ms.toFixed(1),
        perEvent(m.ms),
        m.name === '(none)' ? '–' : perEvent(m.ms - none),
      ]),
    ),
  );
  const used = await uses();
  console.log(
    '\nReads on the largest tenant, 50 newest matches (median ms), with the index and without it:\n',
  );
  console.log(
    table(
      ['index', 'serves', 'with', 'without'],
      used.map((u) => [u.probe.index, u.probe.serves, u.withIndex.toFixed(2), u.without.toFixed(1)]),
    ),
  );
  console.log(
    '\nNot probed: the primary key (tenant, id), (tenant, seq) and (tenant, idempotency key) are unique ' +
      'constraints the chain and idempotency rely on; the search index serves filter.search (Q1, Q2).',
  );
} finally {
  await tearDown();
  await sql.end();
}
