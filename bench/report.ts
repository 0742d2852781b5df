// Turns measurements into the issue's verdicts and prints them as one table (plus the ingest
// breakdown that shows what the hash chain costs).
import type { Stats } from './measure.ts';
import type { ScenarioId } from './scenarios.ts';

/** Resident memory in MiB over one row. */
export type Rss = {
  /** Before the warm-up. */
  before: number;
  /** When the measured runs began. */
  measuredFrom: number;
  /** Highest during the measured runs. */
  peak: number;
  /** Highest during the warm-up. */
  warmUpPeak: number;
};

export type Row = {
  id: ScenarioId;
  scenario: string;
  title: string;
  connections: number;
  eventsPerRequest: number;
  /** Requests per second for load scenarios, dumps per second for S5; latencies per dump there. */
  floor: Stats;
  gateway: Stats;
  /** Ingest only: the floor doing what appendEvents does (head lock, hash, head update). */
  floorChain?: Stats | undefined;
  /** The lean floor (bench/lean-floor.ts), where it serves the scenario. */
  lean?: Stats | undefined;
  gatewayRss: Rss | null;
  floorRss: Rss | null;
  target: string;
  verdict: { met: boolean | null; detail: string };
  /** Issue 14's target, judged against the lean floor. */
  leanVerdict: { met: boolean | null; detail: string };
  notes: string[];
};

export type Extras = { statementsForS3: number | null; datasetEvents: number };

const TEN_MILLION = 10_000_000;

/** Fills in each row's verdict against the issue's target. */
export function judge(rows: Row[], extras: Extras): void {
  for (const row of rows) {
    row.verdict = verdict(row, rows, extras);
    row.leanVerdict = leanVerdict(row, rows, extras);
  }
}

/** Issue 14's targets, against the lean floor of the same run. */
function leanVerdict(row: Row, rows: Row[], extras: Extras): Row['leanVerdict'] {
  const { gateway } = row;
  const x = (n: number) => `${n.toFixed(2)}x`;
  const on10M = extras.datasetEvents >= TEN_MILLION ? '' : ` (on ${millions(extras.datasetEvents)}, not 10M)`;
  if (row.id === 'S2') {
    const s1 = rows.find((r) => r.id === 'S1' && r.connections === row.connections);
    if (!s1) return { met: null, detail: 'needs S1 in the same run' };
    const ratio = gateway.p50 / s1.gateway.p50;
    const leanRatio = row.lean && s1.lean ? ` (lean ${x(row.lean.p50 / s1.lean.p50)})` : '';
    return { met: ratio <= 1.2, detail: `p50 ${x(ratio)} S1's${leanRatio}` };
  }
  if (row.id === 'S4') {
    const limit = row.connections === 1 ? 5 : row.connections === 10 ? 15 : null;
    if (limit === null)
      return { met: null, detail: `p95 ${ms(gateway.p95)} ms (no target at c=${row.connections})` };
    return { met: gateway.p95 <= limit, detail: `p95 ${ms(gateway.p95)} ms <= ${limit}${on10M}` };
  }
  const lean = row.lean;
  if (!lean) {
    const wanted = ['S1', 'S3', 'S5', 'S6', 'S7', 'S8'].includes(row.id);
    return { met: wanted ? false : null, detail: wanted ? 'no lean floor yet' : '' };
  }
  const throughput = gateway.rate / lean.rate;
  switch (row.id) {
    case 'S1':
    case 'S3':
      return { met: throughput >= 0.8, detail: `${x(throughput)} lean` };
    case 'S6': {
      const ratio = gateway.p50 / lean.p50;
      return { met: ratio <= 1.5, detail: `p50 ${x(ratio)} lean` };
    }
    case 'S5': {
      const wall = gateway.p50 / lean.p50;
      const [growth] = growthOf(row.gatewayRss);
      return {
        met: wall <= 1.3 && (row.connections !== 10 || growth <= 64),
        detail: `wall ${x(wall)} lean; RSS +${mb(growth)} MB while measured`,
      };
    }
    case 'S7':
      return { met: throughput >= 0.8, detail: `${x(throughput)} lean (chained)` };
    case 'S8': {
      // Issue 14: 12,000 events/s at c=10, and 0.9x a floor keeping the same chain.
      const events = gateway.rate * row.eventsPerRequest;
      const sustained = row.connections !== 10 || events >= 12_000;
      return {
        met: sustained && throughput >= 0.9,
        detail: `${Math.round(events).toLocaleString('en-US')} events/s, ${x(throughput)} lean (chained)`,
      };
    }
    default:
      return { met: null, detail: '' };
  }
}

function verdict(row: Row, rows: Row[], extras: Extras): Row['verdict'] {
  const { floor, gateway } = row;
  const throughput = gateway.rate / floor.rate;
  const x = (n: number) => `${n.toFixed(2)}x`;
  switch (row.id) {
    case 'S1':
      return { met: throughput >= 0.8, detail: `${x(throughput)} floor` };
    case 'S2': {
      const s1 = rows.find((r) => r.id === 'S1' && r.connections === row.connections);
      if (!s1) return { met: null, detail: 'needs S1 in the same run' };
      const ratio = gateway.p50 / s1.gateway.p50;
      return { met: ratio <= 1.2, detail: `p50 ${x(ratio)} S1's` };
    }
    case 'S3': {
      const n = extras.statementsForS3;
      const one = n === 1;
      return {
        met: one && throughput >= 0.8,
        detail: `${n ?? '?'} statement${n === 1 ? '' : 's'}; ${x(throughput)} floor`,
      };
    }
    case 'S4': {
      const onTarget = extras.datasetEvents >= TEN_MILLION;
      return {
        met: gateway.p95 <= 5,
        detail: `p95 ${ms(gateway.p95)} ms${onTarget ? '' : ` (on ${millions(extras.datasetEvents)}, not 10M)`}`,
      };
    }
    case 'S5': {
      const wall = gateway.p50 / floor.p50;
      const [growth, fromIdle] = growthOf(row.gatewayRss);
      const [floorGrowth, floorFromIdle] = growthOf(row.floorRss);
      return {
        met: wall <= 1.3 && growth <= 64,
        detail:
          `wall ${x(wall)} floor; RSS +${mb(growth)} MB while measured, +${mb(fromIdle)} from before warm-up ` +
          `(floor +${mb(floorGrowth)}, +${mb(floorFromIdle)})`,
      };
    }
    case 'E1': {
      // One request streams a whole tenant, so "growth while measured" is that request's own
      // working set. Flat memory means the exports after the warm-up's did not need more: the
      // measured peak against the warm-up's (each phase streams the whole tenant at least once).
      const [growth] = growthOf(row.gatewayRss);
      const beyond = row.gatewayRss ? row.gatewayRss.peak - row.gatewayRss.warmUpPeak : Number.NaN;
      const [floorGrowth] = growthOf(row.floorRss);
      const rows = Math.round(gateway.rate * row.eventsPerRequest).toLocaleString('en-US');
      return {
        met: throughput >= 0.8 && beyond <= 64,
        detail:
          `${rows} rows/s, ${x(throughput)} floor; RSS peak ${mb(beyond)} MB over the warm-up's ` +
          `(+${mb(growth)} MB within a request; floor +${mb(floorGrowth)})`,
      };
    }
    case 'S6': {
      const ratio = gateway.p50 / floor.p50;
      return { met: ratio <= 1.5, detail: `p50 ${x(ratio)} floor` };
    }
    case 'S7':
      return { met: throughput >= 0.7, detail: `${x(throughput)} floor` };
    case 'C1':
    case 'C2': {
      const onTarget = extras.datasetEvents >= TEN_MILLION;
      return {
        met: row.connections === 1 ? gateway.p95 <= 50 : null,
        detail:
          `p95 ${ms(gateway.p95)} ms (floor ${ms(floor.p95)}), ${x(throughput)} floor` +
          (onTarget ? '' : ` (on ${millions(extras.datasetEvents)}, not 10M)`),
      };
    }
    case 'S8': {
      const events = gateway.rate * row.eventsPerRequest;
      return { met: events >= 25_000, detail: `${Math.round(events).toLocaleString('en-US')} events/s` };
    }
    case 'Q1': {
      // Issue 13 §2 names no concurrency for the rare word, so every one is judged (the counts'
      // target is "at c=1"); the floor's own p95 is shown beside the gateway's.
      const onTarget = extras.datasetEvents >= TEN_MILLION;
      return {
        met: gateway.p95 <= 100,
        detail:
          `p95 ${ms(gateway.p95)} ms (floor ${ms(floor.p95)}), ${x(throughput)} floor` +
          (onTarget ? '' : ` (on ${millions(extras.datasetEvents)}, not 10M)`),
      };
    }
    case 'Q2':
      // The issue sets no target for a common word, only that its cost is bounded.
      return { met: null, detail: `p95 ${ms(gateway.p95)} ms, ${x(throughput)} floor` };
    case 'R1':
      // Judged on its own table (formatReadLogCost): it has no floor.
      return { met: null, detail: 'see the read log table' };
  }
}

/** RSS growth over the measured runs, and from before the warm-up. */
function growthOf(rss: Rss | null): [number, number] {
  if (!rss) return [Number.NaN, Number.NaN];
  return [rss.peak - rss.measuredFrom, Math.max(rss.peak, rss.warmUpPeak) - rss.before];
}

function mb(n: number): string {
  return Number.isFinite(n) ? n.toFixed(0) : '?';
}

function millions(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`;
}

function ms(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

function rate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString();
}

/** CPU per answer as "node + database" milliseconds. */
function cpu(s: Stats): string {
  const c = s.cpuPerRequest;
  return c ? `${ms(c.server)} + ${ms(c.database)}` : '–';
}

function ratio(a: number, b: number): string {
  return b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) : '–';
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The one table: per scenario and concurrency, both servers side by side and the verdict. */
export function formatTable(rows: Row[]): string {
  const header = [
    'scenario',
    'c',
    'floor req/s',
    'gateway req/s',
    'gw/floor',
    'floor p50/p99 ms',
    'gateway p50/p99 ms',
    'gw RSS peak MB',
    'CPU ms/req floor',
    'CPU ms/req gw',
    'target',
    'result',
    'met',
    'lean req/s',
    'gw/lean',
    'lean p50/p99 ms',
    'CPU ms/req lean',
    'issue 14 result',
    'met 14',
  ];
  const body = rows.map((r) => [
    r.id === 'S5' ? `${r.scenario} (per dump)` : r.scenario,
    String(r.connections),
    rate(r.floor.rate),
    rate(r.gateway.rate),
    ratio(r.gateway.rate, r.floor.rate),
    `${ms(r.floor.p50)} / ${ms(r.floor.p99)}`,
    `${ms(r.gateway.p50)} / ${ms(r.gateway.p99)}`,
    r.gatewayRss ? Math.max(r.gatewayRss.peak, r.gatewayRss.warmUpPeak).toFixed(0) : '–',
    cpu(r.floor),
    cpu(r.gateway),
    r.target,
    r.verdict.detail,
    r.verdict.met === null ? '–' : r.verdict.met ? 'yes' : 'NO',
    r.lean ? rate(r.lean.rate) : '–',
    r.lean ? ratio(r.gateway.rate, r.lean.rate) : '–',
    r.lean ? `${ms(r.lean.p50)} / ${ms(r.lean.p99)}` : '–',
    r.lean ? cpu(r.lean) : '–',
    r.leanVerdict.detail || '–',
    r.leanVerdict.met === null ? '–' : r.leanVerdict.met ? 'yes' : 'NO',
  ]);
  return table(header, body);
}

/** Ingest in events per second: a plain INSERT, the same with the chain's SQL and hashing, and the gateway. */
export function formatIngest(rows: Row[]): string {
  const ingest = rows.filter((r) => r.floorChain);
  if (ingest.length === 0) return '';
  const ev = (s: Stats | undefined, per: number) =>
    s ? Math.round(s.rate * per).toLocaleString('en-US') : '–';
  const body = ingest.map((r) => {
    const chain = r.floorChain as Stats;
    return [
      r.scenario,
      String(r.connections),
      ev(r.floor, r.eventsPerRequest),
      ev(chain, r.eventsPerRequest),
      r.floor.rate > 0 ? `${Math.round((1 - chain.rate / r.floor.rate) * 100)}%` : '–',
      ev(r.gateway, r.eventsPerRequest),
      ratio(r.gateway.rate, chain.rate),
    ];
  });
  return table(
    [
      'ingest',
      'c',
      'floor plain ev/s',
      'floor + chain ev/s',
      'chain cost',
      'gateway ev/s',
      'gw / floor+chain',
    ],
    body,
  );
}

/** Anything a reader must know to trust a row: failed requests, notes. */
export function formatNotes(rows: Row[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const failed = [
      r.floor.failed ? `floor ${r.floor.failed}` : '',
      r.gateway.failed ? `gateway ${r.gateway.failed}` : '',
      r.floorChain?.failed ? `floor+chain ${r.floorChain.failed}` : '',
      r.lean?.failed ? `lean ${r.lean.failed}` : '',
    ].filter(Boolean);
    if (failed.length > 0)
      lines.push(`${r.scenario} c=${r.connections}: failed requests: ${failed.join(', ')}`);
    for (const n of r.notes) lines.push(`${r.scenario} c=${r.connections}: ${n}`);
  }
  return lines.join('\n');
}

/** R1: S1 on the same gateway with the tenant's read log on and off in alternating runs. */
export type ReadLogRow = {
  id: ScenarioId;
  scenario: string;
  connections: number;
  on: Stats;
  off: Stats;
  /** on.rate / off.rate over every run. */
  ratio: number;
  /** The same ratio within each round (two runs a side), to show the spread. */
  roundRatios: number[];
  /** Records the tenant gained per answer: about 1 with the log on (S1 reads one page), 0 off. */
  recordsPerRequest: { on: number; off: number };
  target: string;
  met: boolean;
};

/** One record's cost measured directly (bench/run.ts measureRecordCost), at one batch size. */
export type RecordCost = {
  batch: number;
  /** How many tenants a flush's records belong to (one record each when more than one). */
  tenants: number;
  records: number;
  /** Microseconds of CPU per record in Node and in the database backends, and of wall time. */
  nodeUs: number;
  databaseUs: number;
  wallUs: number;
};

export function formatReadLogCost(rows: ReadLogRow[], costs: RecordCost[] = []): string {
  if (rows.length === 0) return '';
  // S1's own CPU per request with the log off, to put a record's cost beside it.
  const off = rows.map((r) => r.off.cpuPerRequest).filter((c) => c !== null);
  const perRequestMs = off.length > 0 ? Math.min(...off.map((c) => c.server + c.database)) : Number.NaN;
  const direct =
    costs.length === 0
      ? ''
      : `\n\n${table(
          [
            'records per flush',
            'tenants',
            'µs/record Node',
            'µs/record db',
            'µs/record wall',
            'share of S1 CPU/request',
          ],
          costs.map((c) => [
            String(c.batch),
            String(c.tenants),
            c.nodeUs.toFixed(0),
            c.databaseUs.toFixed(0),
            c.wallUs.toFixed(0),
            Number.isFinite(perRequestMs)
              ? `${(((c.nodeUs + c.databaseUs) / 1000 / perRequestMs) * 100).toFixed(1)}% of ${ms(perRequestMs)} ms`
              : '–',
          ]),
        )}`;
  const body = rows.map((r) => [
    r.scenario,
    String(r.connections),
    rate(r.on.rate),
    rate(r.off.rate),
    ratio(r.on.rate, r.off.rate),
    `${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}`,
    `${ms(r.on.p50)} / ${ms(r.off.p50)}`,
    `${ms(r.on.p99)} / ${ms(r.off.p99)}`,
    cpu(r.on),
    cpu(r.off),
    `${r.recordsPerRequest.on.toFixed(2)} / ${r.recordsPerRequest.off.toFixed(2)}`,
    r.met ? 'yes' : 'NO',
  ]);
  return (
    table(
      [
        'read log',
        'c',
        'on req/s',
        'off req/s',
        'on/off',
        'per round',
        'p50 on/off ms',
        'p99 on/off ms',
        'CPU ms/req on (node + db)',
        'CPU ms/req off',
        'records/req on/off',
        'on >= 0.9x off',
      ],
      body,
    ) + direct
  );
}
