// The writers the live-tail and log-stream benchmarks ingest with: one POST of a batch to the REST
// API, a paced writer (batches at a fixed events/s), and a closed loop (8 writers, batches of 50).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs `count` events; records each id's acknowledgement time in `at`; returns how many were taken. */
export async function postEvents(url: string, key: string, count: number, at: Map<string, number>) {
  const res = await fetch(`${url}/audit/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({
      events: Array.from({ length: count }, (_, i) => ({ action: `bench.tail.${i % 7}` })),
    }),
  });
  const acked = performance.now();
  const body = (await res.json()) as { results: { id: string }[] };
  for (const r of body.results) at.set(r.id, acked);
  return body.results.length;
}

/** Batches at a fixed rate for `seconds` (by default 10 per batch from 1,000 events/s, else 1); returns events taken. */
export async function pacedIngest(
  url: string,
  key: string,
  rate: number,
  seconds: number,
  at: Map<string, number> = new Map(),
  batch = rate >= 1000 ? 10 : 1,
) {
  const interval = (1000 * batch) / rate;
  const start = performance.now();
  const writes: Promise<number>[] = [];
  for (let i = 0; performance.now() - start < seconds * 1000; i++) {
    writes.push(postEvents(url, key, batch, at));
    const next = start + (i + 1) * interval;
    await sleep(Math.max(0, next - performance.now()));
  }
  return (await Promise.all(writes)).reduce((a, b) => a + b, 0);
}

/** As fast as the gateway takes them: 8 writers in a closed loop, batches of 50; returns events taken and events/s. */
export async function closedLoopIngest(
  url: string,
  key: string,
  seconds: number,
  at: Map<string, number> = new Map(),
) {
  const start = performance.now();
  let events = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (performance.now() - start < seconds * 1000) {
        // Not `events += await …`: that reads `events` before the await and loses the others' counts.
        const taken = await postEvents(url, key, 50, at);
        events += taken;
      }
    }),
  );
  return { events, perSecond: events / ((performance.now() - start) / 1000) };
}
