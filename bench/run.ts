// `npm run bench`: loads (or reuses) the dataset, starts the gateway and the floor as child
// processes, runs the issue's scenarios against both, interleaved, and prints one table.
// See bench/README.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import postgres from 'postgres';
import { ReadLog } from '../src/audit/read-log.ts';
import { TokenSigner } from '../src/audit/tokens.ts';
import { operatorViewer, type Viewer } from '../src/audit/viewer.ts';
import { createApiKey, findTenantBySlug } from '../src/auth/admin.ts';
import { loadConfig } from '../src/config.ts';
import { type Gateway, openGateway } from '../src/gateway.ts';
import { INGEST_TENANTS, planDataset } from './dataset.ts';
import { benchDatabase, benchSecrets, ensureDataset, resetIngestTenants } from './load.ts';
import {
  type DumpSpec,
  dumpOnce,
  hammer,
  hammerDumps,
  type RequestSpec,
  type Run,
  summarize,
  warmUp,
} from './measure.ts';
import { CpuMeter, MemoryWatch, REPO_ROOT, type Service, startFloor, startGateway } from './processes.ts';
import {
  formatIngest,
  formatNotes,
  formatReadLogCost,
  formatTable,
  judge,
  type ReadLogRow,
  type RecordCost,
  type Row,
  type Rss,
} from './report.ts';
import {
  buildScenarios,
  type DumpScenario,
  deepCursor,
  findParams,
  ingestBatch,
  type Keys,
  type LoadScenario,
  type Params,
  SCENARIO_IDS,
  type Scenario,
  type ScenarioId,
  type Target,
  UNFILTERED_PAGE,
} from './scenarios.ts';

type Options = {
  events: number;
  large?: boolean;
  seed: number;
  scenarios: ScenarioId[];
  duration: number;
  warmup: number;
  connections: number[];
  reuse?: boolean;
  database?: string;
  tail?: boolean;
  out: string;
  profile?: boolean;
  logLevel: string;
  loadOnly?: boolean;
  set: Record<string, string>;
};

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};
const list =
  <T>(parse: (s: string) => T) =>
  (value: string) =>
    value.split(',').map((s) => parse(s.trim()));
const scenarioId = (s: string): ScenarioId => {
  const id = s.toUpperCase() as ScenarioId;
  if (!SCENARIO_IDS.includes(id))
    throw new InvalidArgumentError(`unknown scenario ${s}; known: ${SCENARIO_IDS}`);
  return id;
};

const program = new Command('bench')
  .description('Benchmark the gateway against the floor (same SQL behind a bare node:http server)')
  .option('--events <n>', 'events in the dataset', positive, 1_000_000)
  .option('--large', 'the 10M-event dataset (database audit_bench_10m)')
  .option('--seed <n>', 'dataset seed', positive, 42)
  .option('--scenarios <list>', 'comma-separated, e.g. S1,S4 (default: all)', list(scenarioId), SCENARIO_IDS)
  .option('--duration <s>', 'measured seconds per server, scenario and concurrency', positive, 10)
  .option('--warmup <s>', 'warm-up seconds per server before each measurement', positive, 2)
  .option('--connections <list>', 'concurrency levels', list(positive), [1, 10])
  .option(
    '--database <name>',
    'database to load into and run against (audit_bench…; default audit_bench or audit_bench_10m)',
  )
  .option('--reuse', 'keep the loaded dataset when it has the same seed and size')
  .option('--out <dir>', 'where the JSON results go', 'bench-results')
  .option('--profile', 'run the gateway under node --cpu-prof (profiles in <out>/profiles)')
  .option('--log-level <level>', "the gateway's LOG_LEVEL (production default: info)", 'info')
  .option('--load-only', 'load the dataset and stop')
  .option(
    '--set <KEY=VALUE>',
    "a setting of the gateway's, e.g. DATABASE_PIPELINE=true (repeatable)",
    (value: string, all: Record<string, string>) => {
      const eq = value.indexOf('=');
      if (eq <= 0) throw new InvalidArgumentError('must be KEY=VALUE');
      return { ...all, [value.slice(0, eq)]: value.slice(eq + 1) };
    },
    {},
  )
  .option(
    '--tail',
    'also run the live-tail and log-stream benchmark (bench/tail.ts); on by default when --scenarios is not given',
  )
  .option('--no-tail', 'skip the live-tail and log-stream benchmark')
  .showHelpAfterError();

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(opts: Options): Promise<void> {
  const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const events = opts.large ? 10_000_000 : Math.round(opts.events);
  const seed = Math.round(opts.seed);
  const db = benchDatabase(serverUrl, !!opts.large, opts.database);
  const { meta, reused } = await ensureDataset(db, { events, seed, reuse: !!opts.reuse, log });
  if (opts.loadOnly) return;
  await resetIngestTenants(db, log);

  const started = new Date();
  const outDir = path.resolve(REPO_ROOT, opts.out);
  const logDir = path.join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const secrets = benchSecrets(seed);
  const runName = `bench ${started.toISOString()}`;

  const owner = postgres(db.ownerUrl, { max: 2, onnotice: () => {} });
  const services: Service[] = [];
  try {
    const params = await findParams(owner, events, seed);
    log(`largest tenant ${params.largest.slug}: ${params.largest.events} events`);

    // The project's own gateway, in-process, for what only it can tell: that the loaded chains
    // verify, how many statements S3 costs, and a cursor it issued.
    const statements: string[] = [];
    const inProcess = await openGateway({
      config: loadConfig({
        NODE_ENV: 'production',
        DATABASE_URL: db.appUrl,
        DATABASE_MIGRATION_URL: db.ownerUrl,
        MIGRATE_ON_START: 'false',
        TOKEN_SECRET: secrets.tokenSecret,
        SIGNING_KEY: secrets.signingKey,
        DEMO_SEED: 'false',
        LOG_LEVEL: 'silent',
      }),
      logger: pino({ level: 'silent' }),
      onQuery: (q) => statements.push(q),
    });
    let keys: Keys;
    let cursor: string;
    let statementsForS3: number | null;
    let recordCosts: RecordCost[] = [];
    const chains: { slug: string; intact: boolean; events: number; checkpoints: number }[] = [];
    try {
      if (!reused) chains.push(...(await verifySomeChains(inProcess, events, seed)));
      keys = await createKeys(inProcess, params.largest.slug, runName);
      const first = await gatewayJson<{ data: { auditEvents: { edges: { cursor: string }[] } } }>(
        inProcess,
        keys.largest,
        UNFILTERED_PAGE,
      );
      const issued = first.data.auditEvents.edges[0]?.cursor;
      if (!issued) throw new Error('the largest tenant has no events');
      cursor = deepCursor(secrets.tokenSecret, params.largest.id, issued, params.s2.at, params.s2.id);
      statementsForS3 = await countS3Statements(inProcess, keys.largest, params, statements);
      if (opts.scenarios.includes('R1')) {
        recordCosts = await measureRecordCost(inProcess, owner, db.name, params.largest, secrets.tokenSecret);
      }
    } finally {
      await inProcess.close();
    }
    log(`S3 runs ${statementsForS3} SQL statement(s) on audit_events for 50 ids`);

    const batch = ingestBatch(1000, seed);
    const scenarios = buildScenarios(params, keys, cursor, batch).filter((s) =>
      opts.scenarios.includes(s.id),
    );

    const profileDir = path.join(outDir, 'profiles');
    if (opts.profile) mkdirSync(profileDir, { recursive: true });
    const gateway = await startGateway({
      databaseUrl: db.appUrl,
      migrationUrl: db.ownerUrl,
      tokenSecret: secrets.tokenSecret,
      signingKey: secrets.signingKey,
      logLevel: opts.logLevel,
      logDir,
      nodeArgs: opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      env: opts.set,
    });
    services.push(gateway);
    const floor = await startFloor({ databaseUrl: db.appUrl, tokenSecret: secrets.tokenSecret, logDir });
    services.push(floor);
    const lean = await startFloor({
      databaseUrl: db.appUrl,
      tokenSecret: secrets.tokenSecret,
      logDir,
      lean: true,
    });
    services.push(lean);
    log(
      `gateway pid ${gateway.pid} on ${gateway.url}, floor pid ${floor.pid} on ${floor.url}, ` +
        `lean floor pid ${lean.pid} on ${lean.url}`,
    );

    const bases: Record<Target, string> = {
      floor: floor.url,
      floorChain: floor.url,
      lean: lean.url,
      gateway: gateway.url,
    };
    const memory = { gateway: new MemoryWatch(gateway.pid), floor: new MemoryWatch(floor.pid) };
    const meter = new CpuMeter(owner, db.name);
    const servers: Servers = {
      bases,
      memory,
      cpu: async (target, run) => {
        const stop =
          target === 'gateway'
            ? await meter.start(gateway.pid, 'audit-gateway')
            : target === 'lean'
              ? await meter.start(lean.pid, 'audit-lean-floor')
              : await meter.start(floor.pid, 'audit-floor');
        const result = await run();
        return { ...result, cpu: await stop() };
      },
    };
    const rows: Row[] = [];
    const readLogRows: ReadLogRow[] = [];
    for (const scenario of scenarios) {
      const problem = await precheck(scenario, bases);
      if (problem) {
        log(`${scenario.name}: SKIPPED, the two servers disagree: ${problem}`);
        continue;
      }
      for (const c of opts.connections) {
        log(`${scenario.name} c=${c}: ${scenario.title}`);
        if (scenario.kind === 'load' && scenario.readLogCost) {
          const tenant = { id: params.largest.id, slug: params.largest.slug };
          readLogRows.push(await measureReadLogCost(scenario, c, servers, opts, owner, tenant));
        } else {
          rows.push(
            scenario.kind === 'load'
              ? await measureLoad(scenario, c, servers, opts)
              : await measureDump(scenario, c, servers, opts),
          );
        }
        if (!gateway.alive())
          throw new Error(`the gateway died during ${scenario.name}; see ${gateway.logFile}`);
      }
    }

    judge(rows, { statementsForS3, datasetEvents: meta.events });
    const output = [
      '',
      `dataset: ${meta.events} events, ${meta.tenants} tenants, seed ${meta.seed} (${db.name}); ` +
        `largest tenant ${params.largest.events} events`,
      `machine: ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}; ` +
        `${opts.duration}s measured per server (two interleaved halves), ${opts.warmup}s warm-up`,
      '',
      rows.length > 0 ? formatTable(rows) : '',
      '',
      formatIngest(rows),
      '',
      formatNotes(rows),
      '',
      formatReadLogCost(readLogRows, recordCosts),
    ].join('\n');
    log(output);

    const file = path.join(outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          startedAt: started.toISOString(),
          finishedAt: new Date().toISOString(),
          dataset: { ...meta, database: db.name, reused, largestTenant: params.largest },
          machine: {
            cpus: os.cpus().length,
            cpuModel: os.cpus()[0]?.model,
            loadAverage: os.loadavg(),
            node: process.version,
            postgres: (await owner<{ v: string }[]>`select version() as v`)[0]?.v,
          },
          options: opts,
          params,
          chainsVerified: chains,
          statementsForS3,
          rows,
          readLogRows,
          recordCosts,
        },
        null,
        2,
      )}\n`,
    );
    log(`\nwrote ${path.relative(REPO_ROOT, file)}`);
  } finally {
    for (const s of services.reverse()) await s.stop();
    if (opts.profile) log(`gateway CPU profile in ${path.join(outDir, 'profiles')}`);
    await owner`delete from api_keys where name = ${runName}`.catch(() => undefined);
    await owner.end();
    await resetIngestTenants(db, log);
  }
}

// ---------------------------------------------------------------------------------------------

/** The tenant's read-log switch, as `audit-gateway tenants read-log` sets it (read at each request). */
async function setReadLog(owner: postgres.Sql, slug: string, on: boolean): Promise<void> {
  await owner`update tenants set read_log = ${on} where slug = ${slug}`;
}

/** The chains of a small, a middle and a larger tenant, checked by the project's verifier. */
async function verifySomeChains(gateway: Gateway, events: number, seed: number) {
  const plan = planDataset(events, seed).tenants;
  const picks = [plan.at(-1), plan[Math.floor(plan.length / 2)], plan[19]].filter((t) => t !== undefined);
  const results = [];
  for (const t of picks) {
    const tenant = await findTenantBySlug(gateway.database, t.slug);
    if (!tenant) throw new Error(`tenant ${t.slug} is missing`);
    const report = await gateway.chain.verify(operatorViewer(tenant));
    log(
      `chain of ${t.slug}: ${report.intact ? 'intact' : `BROKEN at ${report.break?.sequence} (${report.break?.detail})`}, ` +
        `${report.eventsChecked} events, ${report.checkpointsChecked} checkpoints`,
    );
    if (!report.intact) throw new Error(`the loaded chain of ${t.slug} does not verify`);
    results.push({
      slug: t.slug,
      intact: report.intact,
      events: report.eventsChecked,
      checkpoints: report.checkpointsChecked,
    });
  }
  return results;
}

async function createKeys(gateway: Gateway, largest: string, name: string): Promise<Keys> {
  const key = async (slug: string) =>
    (await createApiKey(gateway.database, slug, ['read', 'write'], name)).key;
  return {
    largest: await key(largest),
    ingestGateway: await key(INGEST_TENANTS.gateway),
    ingestFloor: await key(INGEST_TENANTS.floor),
    ingestFloorChain: await key(INGEST_TENANTS.floorChain),
  };
}

async function gatewayJson<T>(gateway: Gateway, key: string, body: string): Promise<T> {
  const res = await gateway.app.fetch(
    new Request('http://bench.local/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
    }),
    { remoteAddress: '127.0.0.1' },
  );
  const json = (await res.json()) as T & { errors?: unknown };
  if (res.status !== 200 || json.errors)
    throw new Error(`GraphQL failed: ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Statements on audit_events for S3's request, counted through the gateway's query hook. */
async function countS3Statements(
  gateway: Gateway,
  key: string,
  params: Params,
  seen: string[],
): Promise<number> {
  seen.length = 0;
  const body = JSON.stringify({
    query: 'query ByIds($ids: [ID!]!) { nodes(ids: $ids) { ... on AuditEvent { id action } } }',
    variables: { ids: params.s3.ids },
  });
  const result = await gatewayJson<{ data: { nodes: unknown[] } }>(gateway, key, body);
  if (result.data.nodes.filter(Boolean).length !== params.s3.ids.length)
    throw new Error('S3 ids did not all resolve');
  return seen.filter((q) => q.includes('"audit_events"')).length;
}

// ---------------------------------------------------------------------------------------------
// Checking that both servers do the same work before timing them

async function fetchText(base: string, spec: RequestSpec): Promise<{ status: number; text: string }> {
  const res = await fetch(base + spec.path, {
    method: spec.method,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
  });
  return { status: res.status, text: await res.text() };
}

async function dumpTexts(base: string, spec: DumpSpec): Promise<string[]> {
  const pages: string[] = [];
  let request: RequestSpec | null = spec.first;
  while (request && pages.length < spec.pages) {
    const { status, text } = await fetchText(base, request);
    if (status !== 200) throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
    pages.push(text);
    const token = /"nextToken":"([^"]+)"\}$/.exec(text)?.[1];
    request = token ? spec.next(token) : null;
  }
  return pages;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at byte ${i}: gateway …${a.slice(Math.max(0, i - 60), i + 60)}… floor …${b.slice(Math.max(0, i - 60), i + 60)}…`;
}

/** Null when both servers answer alike (reads byte for byte), else what differs. */
async function precheck(s: Scenario, bases: Record<Target, string>): Promise<string | null> {
  if (s.kind === 'dump' && s.compare === 'status') {
    // Compared by status and completeness only: streamed like the measured dumps, since a whole
    // export of the 10M dataset's largest tenant is longer than a string can be.
    const [gw, fl] = await Promise.all([
      dumpOnce(bases.gateway, s.dumps.gateway),
      dumpOnce(bases.floor, s.dumps.floor),
    ]);
    return gw.pages === fl.pages ? null : `gateway gave ${gw.pages} pages, floor ${fl.pages}`;
  }
  if (s.kind === 'dump') {
    const gw = await dumpTexts(bases.gateway, s.dumps.gateway);
    for (const target of ['floor', 'lean'] as const) {
      const spec = s.dumps[target];
      if (!spec) continue;
      const fl = await dumpTexts(bases[target], spec);
      if (gw.length !== fl.length) return `gateway gave ${gw.length} pages, ${target} ${fl.length}`;
      for (let i = 0; i < gw.length; i++) {
        if (gw[i] !== fl[i])
          return `${target}: page ${i + 1} differs ${firstDifference(gw[i] as string, fl[i] as string)}`;
      }
    }
    return null;
  }
  const answers = new Map<Target, { status: number; text: string }>();
  for (const [target, spec] of Object.entries(s.requests) as [Target, RequestSpec][]) {
    answers.set(target, await fetchText(bases[target], spec));
  }
  for (const [target, a] of answers) {
    if (a.status < 200 || a.status >= 300 || a.text.includes('"errors":')) {
      return `${target} answered ${a.status}: ${a.text.slice(0, 300)}`;
    }
    if (a.text.includes('"status":"rejected"') || a.text.includes('RecordEventFailure')) {
      return `${target} rejected events: ${a.text.slice(0, 300)}`;
    }
  }
  if (s.compare === 'status') return null;
  const gw = answers.get('gateway')?.text ?? '';
  for (const target of ['floor', 'lean'] as const) {
    const fl = answers.get(target)?.text;
    if (fl === undefined || gw === fl) continue;
    // The lean floor must match byte for byte; the same-SQL floor as before, by value.
    if (target === 'floor' && isDeepStrictEqual(JSON.parse(gw), JSON.parse(fl))) continue;
    return `${target}: ${firstDifference(gw, fl)}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Measuring

type Servers = {
  bases: Record<Target, string>;
  memory: { gateway: MemoryWatch; floor: MemoryWatch };
  /** Runs one measured stretch against a target, noting the CPU it and its database backends used. */
  cpu: (target: Target, run: () => Promise<Run>) => Promise<Run>;
};

/**
 * A server's memory over one row: from before the warm-up (the first requests of a kind grow the
 * heap once, in any Node server) and over the measured runs (what the work itself holds).
 */
function memoryPhases(watch: MemoryWatch) {
  const warmUp = watch.track();
  let first: { start: number; peak: number } | null = null;
  let measured: (() => { start: number; peak: number } | null) | null = null;
  return {
    measuring() {
      first = warmUp();
      measured = watch.track();
    },
    done(): Rss | null {
      const second = measured?.() ?? null;
      if (!first || !second) return null;
      return { before: first.start, measuredFrom: second.start, peak: second.peak, warmUpPeak: first.peak };
    },
  };
}

function watchBoth(memory: Servers['memory']) {
  const gateway = memoryPhases(memory.gateway);
  const floor = memoryPhases(memory.floor);
  return {
    measuring() {
      gateway.measuring();
      floor.measuring();
    },
    done: () => ({ gateway: gateway.done(), floor: floor.done() }),
  };
}

/** floor, gateway, gateway, floor (and the chained floor around the gateway for ingest). */
function interleaved<T extends Target>(targets: T[]): T[] {
  return [...targets, ...[...targets].reverse()];
}

async function measureLoad(
  s: LoadScenario,
  connections: number,
  servers: Servers,
  opts: Options,
): Promise<Row> {
  const { bases, memory } = servers;
  const targets = (['floor', 'floorChain', 'lean', 'gateway'] as Target[]).filter((t) => s.requests[t]);
  const spec = (t: Target) => s.requests[t] as RequestSpec;
  const watch = watchBoth(memory);
  const rates = new Map<Target, number>();
  for (const t of targets) rates.set(t, await warmUp(bases[t], spec(t), connections, opts.warmup));
  watch.measuring();
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  for (const t of interleaved(targets)) {
    const amount = ((rates.get(t) ?? 0) * opts.duration) / 2;
    runs.get(t)?.push(await servers.cpu(t, () => hammer(bases[t], spec(t), connections, amount)));
  }
  return row(s, connections, runs, watch.done());
}

async function measureDump(
  s: DumpScenario,
  connections: number,
  servers: Servers,
  opts: Options,
): Promise<Row> {
  const { bases, memory } = servers;
  const targets = (['floor', 'lean', 'gateway'] as const).filter((t) => s.dumps[t]);
  const spec = (t: (typeof targets)[number]) => s.dumps[t] as DumpSpec;
  await Promise.all(targets.map((t) => dumpOnce(bases[t], spec(t))));
  const watch = watchBoth(memory);
  for (const t of targets) await hammerDumps(bases[t], spec(t), connections, opts.warmup);
  watch.measuring();
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  for (const t of interleaved([...targets])) {
    runs
      .get(t)
      ?.push(await servers.cpu(t, () => hammerDumps(bases[t], spec(t), connections, opts.duration / 2)));
  }
  return row(s, connections, runs, watch.done());
}

function row(
  s: Scenario,
  connections: number,
  runs: Map<Target, Run[]>,
  rss: { gateway: Rss | null; floor: Rss | null },
): Row {
  const chain = runs.get('floorChain');
  return {
    id: s.id,
    scenario: s.name,
    title: s.title,
    connections,
    eventsPerRequest: s.eventsPerRequest,
    floor: summarize(runs.get('floor') ?? []),
    gateway: summarize(runs.get('gateway') ?? []),
    floorChain: chain ? summarize(chain) : undefined,
    lean: runs.get('lean')?.length ? summarize(runs.get('lean') ?? []) : undefined,
    gatewayRss: rss.gateway,
    floorRss: rss.floor,
    target: s.target,
    verdict: { met: null, detail: '' },
    leanVerdict: { met: null, detail: '' },
    notes: [],
  };
}

/** Rounds of (off, on, on, off) or (on, off, off, on) runs in R1. */
const READ_LOG_ROUNDS = 6;
/**
 * After each R1 run, longer than the gateway's READ_LOG_FLUSH_MS (250 ms): the run's last records
 * are written (and their CPU counted) before the switch flips for the next run.
 */
const READ_LOG_SETTLE_MS = 600;

/**
 * R1: what the read log costs S1. One gateway, one dataset, one tenant; the tenant's real switch
 * (the column `audit-gateway tenants read-log` sets, read at each request) flips between runs in
 * rounds of off-on-on-off and on-off-off-on, so drift on a busy machine falls on both sides alike.
 * Each run's CPU (Node and the pool's database backends, which also write the records) is taken
 * until its records are flushed; the records the tenant gained say how many reads were recorded.
 */
async function measureReadLogCost(
  s: LoadScenario,
  connections: number,
  servers: Servers,
  opts: Options,
  owner: postgres.Sql,
  tenant: { id: number; slug: string },
): Promise<ReadLogRow> {
  const base = servers.bases.gateway;
  const spec = s.requests.gateway as RequestSpec;
  const recorded = async () =>
    Number(
      (await owner<{ n: string }[]>`select count(*) as n from audit_reads where tenant_id = ${tenant.id}`)[0]
        ?.n ?? 0,
    );
  try {
    await setReadLog(owner, tenant.slug, true);
    const rate = await warmUp(base, spec, connections, opts.warmup);
    const amount = (rate * opts.duration) / (2 * READ_LOG_ROUNDS);
    const runs = { on: [] as Run[], off: [] as Run[] };
    const records = { on: 0, off: 0 };
    const pairs: number[] = [];
    await sleep(READ_LOG_SETTLE_MS);
    for (let round = 0; round < READ_LOG_ROUNDS; round++) {
      const order: ('on' | 'off')[] =
        round % 2 === 0 ? ['off', 'on', 'on', 'off'] : ['on', 'off', 'off', 'on'];
      const roundRuns = { on: [] as Run[], off: [] as Run[] };
      for (const side of order) {
        await setReadLog(owner, tenant.slug, side === 'on');
        const before = await recorded();
        const run = await servers.cpu('gateway', async () => {
          const r = await hammer(base, spec, connections, amount);
          await sleep(READ_LOG_SETTLE_MS);
          return r;
        });
        records[side] += (await recorded()) - before;
        runs[side].push(run);
        roundRuns[side].push(run);
      }
      pairs.push(summarize(roundRuns.on).rate / summarize(roundRuns.off).rate);
    }
    const on = summarize(runs.on);
    const off = summarize(runs.off);
    const ratio = on.rate / off.rate;
    return {
      id: s.id,
      scenario: s.name,
      connections,
      on,
      off,
      ratio,
      roundRatios: pairs,
      recordsPerRequest: { on: records.on / Math.max(1, on.ok), off: records.off / Math.max(1, off.ok) },
      target: s.target,
      met: ratio >= 0.9,
    };
  } finally {
    await setReadLog(owner, tenant.slug, true);
  }
}

/** Records written per batch size, and batch sizes, in the direct measurement of a record's cost. */
const RECORD_COST_RECORDS = 4000;
const RECORD_COST_BATCHES = [1, 5, 25, 100, 500];
const RECORD_COST_TENANTS = 20;

/**
 * What one record costs, measured directly rather than as a difference of two noisy throughputs:
 * the gateway's ReadLog on its own pool records a read S1 would leave (the same filter), then
 * writes the queue, `batch` records per flush; CPU of this process (Node: building the record,
 * the multi-row INSERT) and of the pool's database backends, per record. At a batch of 1 every
 * read pays a whole flush (a transaction of its own), the worst case: a tenant read less often
 * than once per READ_LOG_FLUSH_MS.
 */
async function measureRecordCost(
  gateway: Gateway,
  owner: postgres.Sql,
  database: string,
  tenant: { id: number; slug: string },
  tokenSecret: string,
): Promise<RecordCost[]> {
  const readLog = new ReadLog({
    db: gateway.database.db,
    tokens: new TokenSigner([tokenSecret]),
    logger: pino({ level: 'silent' }),
    flushMs: 3_600_000,
    batchSize: 10_000,
    queueLimit: 100_000,
  });
  const viewer: Viewer = {
    tenantId: tenant.id,
    tenantSlug: tenant.slug,
    keyId: 'bench-record-cost',
    scopes: new Set(['read']),
    recordReads: true,
    origin: { surface: 'graphql', operation: 'Page', clientAddress: '127.0.0.1', requestId: 'bench' },
  };
  const filter = {
    actions: ['login'],
    since: new Date('2026-06-01T00:00:00Z'),
    until: new Date('2026-07-01T00:00:00Z'),
    order: { field: 'occurredAt', direction: 'desc' },
  };
  // The many-tenants case: each flush holds one record of each of these tenants.
  const others = await owner<{ id: number; slug: string }[]>`
    select id, slug from tenants order by id limit ${RECORD_COST_TENANTS}`;
  const viewers = others.map((o) => ({ ...viewer, tenantId: o.id, tenantSlug: o.slug }));
  const meter = new CpuMeter(owner, database);
  const costs: RecordCost[] = [];
  const measure = async (batch: number, tenants: number, recordOne: (i: number) => void) => {
    const stop = await meter.start(process.pid, 'audit-gateway');
    const started = performance.now();
    for (let written = 0; written < RECORD_COST_RECORDS; written += batch) {
      for (let i = 0; i < batch; i++) recordOne(i);
      await readLog.flush();
    }
    const wall = performance.now() - started;
    const cpu = await stop();
    const cost: RecordCost = {
      batch,
      tenants,
      records: RECORD_COST_RECORDS,
      nodeUs: cpu ? (cpu.server * 1e6) / RECORD_COST_RECORDS : Number.NaN,
      databaseUs: cpu ? (cpu.database * 1e6) / RECORD_COST_RECORDS : Number.NaN,
      wallUs: (wall * 1000) / RECORD_COST_RECORDS,
    };
    costs.push(cost);
    log(
      `read log: ${RECORD_COST_RECORDS} records, ${batch} per flush of ${tenants} tenant(s): ` +
        `${cost.nodeUs.toFixed(0)} µs Node + ${cost.databaseUs.toFixed(0)} µs database per record`,
    );
  };
  try {
    // Warm the code paths (and the pool's connections) first.
    for (let i = 0; i < 200; i++) readLog.record(viewer, 'events', filter, 50);
    await readLog.flush();
    for (const batch of RECORD_COST_BATCHES) {
      await measure(batch, 1, () => readLog.record(viewer, 'events', filter, 50));
    }
    await measure(viewers.length, viewers.length, (i) =>
      readLog.record(viewers[i] as Viewer, 'events', filter, 50),
    );
  } finally {
    await readLog.close();
    await owner`delete from audit_reads where key_id = 'bench-record-cost'`.catch(() => undefined);
  }
  return costs;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The live tail's latency and fan-out and log-stream delivery next to ingest (bench/tail.ts), on a
 * scratch database of their own, after the scenarios: part of a full `npm run bench`, or asked
 * for with --tail.
 */
function runTailBench(opts: Options): void {
  log('\n== live tail and log streams (bench/tail.ts) ==');
  const tail = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/tail.ts', '--duration', String(opts.duration), '--out', opts.out],
    { stdio: 'inherit' },
  );
  if (tail.status !== 0) throw new Error(`bench/tail.ts exited with ${tail.status ?? tail.signal}`);
}

program.action(async (opts: Options) => {
  try {
    await main(opts);
    const all = !process.argv.includes('--scenarios');
    if (!opts.loadOnly && (opts.tail ?? all)) runTailBench(opts);
  } catch (error) {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  }
});
await program.parseAsync(process.argv);
