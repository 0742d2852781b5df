// Load generation and the numbers taken from it: autocannon for request/response scenarios, a
// small loop for the multi-page Mural dump, and latency percentiles over every response.
import autocannon from 'autocannon';

export type RequestSpec = {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
};

/** One measured stretch against one server. */
export type Run = {
  /** Completed 2xx responses. */
  ok: number;
  failed: number;
  seconds: number;
  /** Milliseconds, one per response. */
  latencies: number[];
  /** CPU seconds the server process and its database backends spent on this run, when known. */
  cpu?: { server: number; database: number } | null;
};

/**
 * Sends exactly `amount` requests, `connections` at a time, and waits for every answer. A fixed
 * amount rather than a fixed time: requests still in flight at a deadline would be dropped from
 * the count yet keep the server busy into the next server's turn.
 */
export async function hammer(
  base: string,
  spec: RequestSpec,
  connections: number,
  amount: number,
): Promise<Run> {
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const started = performance.now();
  let lastAnswer = started;
  const instance = autocannon({
    url: base + spec.path,
    method: spec.method,
    headers: spec.headers,
    ...(spec.body === undefined ? {} : { body: spec.body }),
    connections,
    amount: Math.max(connections, Math.round(amount)),
    pipelining: 1,
    timeout: 300,
    // autocannon notices that the last answer arrived only on its sampling tick (1 s by default).
    sampleInt: 10,
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    lastAnswer = performance.now();
    latencies.push(ms);
    if (status >= 200 && status < 300) ok += 1;
    else failed += 1;
  });
  const result = await instance;
  return {
    ok,
    failed: failed + result.errors + result.timeouts,
    seconds: (lastAnswer - started) / 1000,
    latencies,
  };
}

/**
 * Warms a server up for about `seconds` (rounds of growing size, at least one request per
 * connection) and returns its rate in the last round, which sizes the measured runs.
 */
export async function warmUp(
  base: string,
  spec: RequestSpec,
  connections: number,
  seconds: number,
): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let amount = connections;
  for (;;) {
    const run = await hammer(base, spec, connections, amount);
    const rate = run.ok / run.seconds;
    const left = (deadline - performance.now()) / 1000;
    if (left <= 0 || run.ok === 0) return rate;
    amount = Math.max(connections, Math.min(amount * 4, rate * left));
  }
}

/** How to fetch a Mural-style dump: a first page, then pages by the token the previous one ended with. */
export type DumpSpec = {
  first: RequestSpec;
  next: (token: string) => RequestSpec;
  pages: number;
  /** Whether a page's last 4 KiB show it complete (default: a JSON document's closing brace). */
  complete?: (tail: string) => boolean;
};

export type DumpResult = { pages: number; bytes: number; ms: number };

/**
 * Fetches one dump: the first page, then up to `pages - 1` more by nextToken. Reads each body as
 * a stream and keeps only its tail (where the token is), so the client does not pay to parse
 * megabytes of JSON it does not need.
 */
export async function dumpOnce(base: string, spec: DumpSpec): Promise<DumpResult> {
  const started = performance.now();
  let request: RequestSpec | null = spec.first;
  let pages = 0;
  let bytes = 0;
  while (request && pages < spec.pages) {
    const res = await fetch(base + request.path, { method: request.method, headers: request.headers });
    if (res.status !== 200 || !res.body) throw new Error(`dump page ${pages + 1}: HTTP ${res.status}`);
    let tail = '';
    const decoder = new TextDecoder();
    const reader = res.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      bytes += chunk.value.byteLength;
      tail = (tail + decoder.decode(chunk.value, { stream: true })).slice(-4096);
    }
    pages += 1;
    const token = /"nextToken":"([^"]+)"\}$/.exec(tail)?.[1];
    if (!(spec.complete ? spec.complete(tail) : tail.endsWith('}')))
      throw new Error(`dump page ${pages}: truncated response`);
    request = token ? spec.next(token) : null;
  }
  return { pages, bytes, ms: performance.now() - started };
}

/** Runs dumps back to back on `connections` parallel clients until `seconds` have passed (at least one each). */
export async function hammerDumps(
  base: string,
  spec: DumpSpec,
  connections: number,
  seconds: number,
): Promise<Run & { pages: number; bytes: number }> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const latencies: number[] = [];
  let failed = 0;
  let pages = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      do {
        try {
          const one = await dumpOnce(base, spec);
          latencies.push(one.ms);
          pages += one.pages;
          bytes += one.bytes;
        } catch {
          failed += 1;
        }
      } while (performance.now() < deadline);
    }),
  );
  return {
    ok: latencies.length,
    failed,
    seconds: (performance.now() - started) / 1000,
    latencies,
    pages,
    bytes,
  };
}

export type Stats = {
  ok: number;
  failed: number;
  seconds: number;
  /** Requests (or dumps) per second. */
  rate: number;
  p50: number;
  p95: number;
  p99: number;
  /** CPU milliseconds per answer in the server process and in its database backends. */
  cpuPerRequest: { server: number; database: number } | null;
};

/** Pools several runs against the same server (the halves of an interleaved measurement). */
export function summarize(runs: Run[]): Stats {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const ok = runs.reduce((n, r) => n + r.ok, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  return {
    ok,
    failed: runs.reduce((n, r) => n + r.failed, 0),
    seconds,
    rate: seconds > 0 ? ok / seconds : 0,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    cpuPerRequest: runs.every((r) => r.cpu) && ok > 0 ? cpuPerRequest(runs, ok) : null,
  };
}

function cpuPerRequest(runs: Run[], ok: number): { server: number; database: number } {
  const sum = (pick: (c: { server: number; database: number }) => number) =>
    runs.reduce((n, r) => n + (r.cpu ? pick(r.cpu) : 0), 0);
  return { server: (sum((c) => c.server) * 1000) / ok, database: (sum((c) => c.database) * 1000) / ok };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}
