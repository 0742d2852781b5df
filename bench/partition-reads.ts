// `npm run bench:partitions`: what time partitions (drizzle/0008) cost each read of S1–S6 in the
// database, the one place they change anything. The gateway's own statements (bench/floor-sql.ts,
// which test/bench-floor-sql.test.ts keeps equal to what the gateway sends) run on two copies of
// one dataset, unpartitioned (`--before`, loaded by a checkout from before the migration) and
// partitioned (`--after`), prepared, with the serving role's session settings and row-level
// security, interleaved in rounds so both see the same machine. The gateway's own throughput on
// each copy comes from two `npm run bench` runs (docs/scaling.md#time-partitions).
//
//   npm run bench:partitions -- --before audit_bench_r1 --after audit_bench_p1
import { Command } from 'commander';
import postgres from 'postgres';
import { uuidTime } from '../src/audit/repository/event-reads.ts';
import { servingSession } from '../src/db/client.ts';
import { BY_IDS_ANYWHERE, FLOOR_SQL as SQL } from './floor-sql.ts';
import { findParams } from './scenarios.ts';

const program = new Command('bench:partitions')
  .requiredOption('--before <database>', 'the dataset, unpartitioned')
  .requiredOption('--after <database>', 'the same dataset, partitioned')
  .option('--rounds <n>', 'interleaved rounds', (v) => Number(v), 10)
  .option('--per-round <n>', 'executions of each statement per round and database', (v) => Number(v), 50)
  .parse();
const opts = program.opts<{ before: string; after: string; rounds: number; perRound: number }>();

const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const at = (database: string) => {
  const url = new URL(server);
  url.pathname = `/${database}`;
  return url.toString();
};

const owner = postgres(at(opts.after), { max: 1, onnotice: () => {} });
const p = await findParams(owner, 1_000_000, 42);
await owner.end();
const tenant = p.largest.id;
const s2At = new Date(p.s2.at).toISOString();

/** Each scenario's statements, as the gateway sends them for one request (`before`: if it differed). */
const scenarios: { name: string; statements: [string, unknown[]][]; before?: [string, unknown[]][] }[] = [
  { name: 'S1', statements: [[SQL.byActionInWindow, [tenant, p.s1.since, p.s1.until, [p.s1.action], 51]]] },
  { name: 'S2', statements: [[SQL.afterCursor, [tenant, s2At, p.s2.id, 51]]] },
  {
    name: 'S3',
    statements: [[SQL.byIds, [p.s3.ids, p.s3.ids.map(uuidTime), tenant]]],
    before: [[BY_IDS_ANYWHERE, [tenant, p.s3.ids]]],
  },
  {
    name: 'S4',
    statements: [
      [SQL.catalog, [tenant]],
      [SQL.earliest, [tenant, 1]],
      [SQL.latest, [tenant, 1]],
    ],
  },
  { name: 'S5 (one page of 5,000)', statements: [[SQL.window, [tenant, p.s5.since, p.s5.until, 5001]]] },
  {
    name: 'S6',
    statements: [
      [SQL.offsetPage, [tenant, 500, 10_000]],
      [SQL.count, [tenant]],
    ],
  },
  { name: "S6's page", statements: [[SQL.offsetPage, [tenant, 500, 10_000]]] },
  { name: "S6's total", statements: [[SQL.count, [tenant]]] },
];

function session(database: string) {
  return postgres(at(database), {
    max: 1,
    onnotice: () => {},
    connection: { ...servingSession, application_name: 'bench-partitions' },
  });
}

async function once(sql: postgres.Sql, statements: [string, unknown[]][]): Promise<number> {
  const started = performance.now();
  await sql.begin(async (tx) => {
    await tx.unsafe(SQL.setTenant, [String(tenant)], { prepare: true });
    for (const [text, params] of statements)
      await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
  });
  return performance.now() - started;
}

const sides = { before: session(opts.before), after: session(opts.after) };
const times: Record<string, { before: number[]; after: number[] }> = {};
for (const s of scenarios) times[s.name] = { before: [], after: [] };
for (let round = 0; round < opts.rounds; round++) {
  for (const s of scenarios) {
    for (const side of round % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
      for (let i = 0; i < opts.perRound; i++) {
        const ms = await once(sides[side], side === 'before' ? (s.before ?? s.statements) : s.statements);
        // The first executions plan and warm the caches.
        if (round > 0) times[s.name]?.[side].push(ms);
      }
    }
  }
}
await Promise.all([sides.before.end(), sides.after.end()]);

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const rows = scenarios.map((s) => {
  const t = times[s.name] as { before: number[]; after: number[] };
  const before = median(t.before);
  const after = median(t.after);
  return { scenario: s.name, before, after, ratio: after / before };
});
process.stdout.write(
  `database time per request (transaction with the tenant setting), median of ${(opts.rounds - 1) * opts.perRound}, ms\n\n` +
    '| scenario | unpartitioned | partitioned | after / before |\n|---|---|---|---|\n' +
    rows
      .map(
        (r) => `| ${r.scenario} | ${r.before.toFixed(3)} | ${r.after.toFixed(3)} | ${r.ratio.toFixed(2)} |`,
      )
      .join('\n') +
    '\n',
);
