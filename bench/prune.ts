// `npm run bench:prune`: the oldest month of a benchmark dataset pruned while a gateway serves
// reads and ingest (docs/retention.md#measured). On a partitioned database (drizzle/0008) the
// month's partition is dropped; on an unpartitioned one, which only a checkout from before that
// migration leaves so, it is deleted row by row. Both through `audit-gateway prune --before`, as
// an operator would.
//
// Destructive: the month is gone afterwards. Run it on a copy:
//   createdb -T audit_bench_10m audit_bench_10m_prune
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:prune -- --database audit_bench_10m_prune
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Command } from 'commander';
import postgres from 'postgres';
import { benchDatabase, benchSecrets } from './load.ts';
import { REPO_ROOT, startGateway } from './processes.ts';

const program = new Command('bench:prune')
  .requiredOption('--database <name>', 'the bench database to prune (a copy: this removes a month)')
  .option('--before <date>', 'prune what was received before this date', '2025-10-01')
  .option('--quiet <s>', 'seconds of load before and after the prune', (v) => Number(v), 15)
  .option('--clients <n>', 'concurrent clients for reads, and as many for ingest', (v) => Number(v), 4)
  .option('--seed <n>', 'the dataset seed (for its secrets)', (v) => Number(v), 42)
  .parse();
const opts = program.opts<{
  database: string;
  before: string;
  quiet: number;
  clients: number;
  seed: number;
}>();

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const db = benchDatabase(serverUrl, false, opts.database);
const secrets = benchSecrets(opts.seed);
const log = (line: string) => process.stderr.write(`${line}\n`);

/** `node src/bin.mjs <args>` as the owner; its stdout, stderr and wall time. */
async function cli(args: string[]): Promise<{ stdout: string; stderr: string; ms: number; code: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['src/bin.mjs', ...args], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      DOTENV_FILE: 'none',
      DATABASE_URL: db.ownerUrl,
      TOKEN_SECRET: secrets.tokenSecret,
      SIGNING_KEY: secrets.signingKey,
      LOG_LEVEL: 'warn',
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  return { stdout, stderr, ms: performance.now() - started, code };
}

async function apiKey(tenant: string): Promise<string> {
  const made = await cli(['keys', 'create', '--tenant', tenant, '--scopes', 'read,write', '--json']);
  if (made.code !== 0) throw new Error(`keys create ${tenant}: ${made.stderr}`);
  return (JSON.parse(made.stdout) as { key: string }).key;
}

type Sample = { at: number; ms: number; ok: boolean };

/** Closed-loop clients until stopped, every answer kept with the moment it came. */
function load(url: string, key: string, body: string, clients: number, t0: number) {
  const samples: Sample[] = [];
  const instance = autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
    connections: clients,
    duration: 3600,
    pipelining: 1,
    timeout: 60,
  });
  instance.on('response', (_c, status, _b, ms) => {
    samples.push({ at: performance.now() - t0, ms, ok: status >= 200 && status < 300 });
  });
  return { samples, stop: () => instance.stop(), done: instance.then(() => undefined) };
}

function phase(samples: Sample[], from: number, to: number) {
  const inside = samples.filter((s) => s.at >= from && s.at < to);
  const ms = inside.map((s) => s.ms).sort((a, b) => a - b);
  const pick = (q: number) => (ms.length ? (ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0) : 0);
  const seconds = Math.max(0.001, (to - from) / 1000);
  return {
    perSecond: Number((inside.length / seconds).toFixed(1)),
    p50: Number(pick(0.5).toFixed(1)),
    p99: Number(pick(0.99).toFixed(1)),
    max: Number((ms.at(-1) ?? 0).toFixed(1)),
    failed: inside.filter((s) => !s.ok).length,
  };
}

const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
const [shape] = await owner`select relkind from pg_class where oid = 'audit_events'::regclass`;
const partitioned = shape?.relkind === 'p';
const [largest] = await owner`
  select t.slug from chain_heads h join tenants t on t.id = h.tenant_id order by h.seq desc limit 1`;
const [month] = await owner`
  select count(*)::int as events, count(distinct tenant_id)::int as tenants from audit_events
   where received_at < ${opts.before}::timestamptz`;
await owner.end();
log(
  `${db.name}: ${partitioned ? 'partitioned' : 'unpartitioned'}; pruning ${month?.events} events of ${month?.tenants} tenants received before ${opts.before}`,
);

const readKey = await apiKey(largest?.slug as string);
const ingestKey = await apiKey('bench-ingest-gateway');
const gateway = await startGateway({
  databaseUrl: db.appUrl,
  migrationUrl: db.ownerUrl,
  tokenSecret: secrets.tokenSecret,
  signingKey: secrets.signingKey,
  logLevel: 'warn',
  logDir: mkdtempSync(path.join(tmpdir(), 'bench-prune-')),
  nodeArgs: [],
  // The job would prune on its own schedule; this measures the explicit prune alone.
  env: { RETENTION_INTERVAL_SECONDS: '604800' },
});
try {
  const graphql = `${gateway.url}/graphql`;
  const read = JSON.stringify({
    query: '{ auditEvents(first: 50) { edges { node { id action occurredAt actor { id } } } } }',
  });
  const write = JSON.stringify({
    query: 'mutation { recordEvent(input: { action: "bench.prune.ingest", actor: { id: "bench" } }) { id } }',
  });
  const t0 = performance.now();
  const reads = load(graphql, readKey, read, opts.clients, t0);
  const writes = load(graphql, ingestKey, write, opts.clients, t0);
  const pause = () => new Promise((r) => setTimeout(r, opts.quiet * 1000));
  await pause();
  const pruneFrom = performance.now() - t0;
  const pruned = await cli(['prune', '--before', opts.before, '--by', 'bench', '--json']);
  const pruneTo = performance.now() - t0;
  await pause();
  const end = performance.now() - t0;
  for (const l of [reads, writes]) l.stop();
  await Promise.all([reads.done, writes.done]);
  if (pruned.code !== 0) throw new Error(`prune: ${pruned.stderr}`);
  const results = JSON.parse(pruned.stdout) as { removed: number }[];
  const phases = (samples: Sample[]) => ({
    before: phase(samples, 0, pruneFrom),
    during: phase(samples, pruneFrom, pruneTo),
    after: phase(samples, pruneTo, end),
  });
  const summary = {
    database: db.name,
    partitioned,
    receivedBefore: opts.before,
    removedEvents: results.reduce((n, r) => n + r.removed, 0),
    prunes: results.length,
    pruneMs: Math.round(pruneTo - pruneFrom),
    months: pruned.stderr.trim().split('\n').filter(Boolean),
    clients: opts.clients,
    reads: phases(reads.samples),
    ingest: phases(writes.samples),
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  await gateway.stop();
}
