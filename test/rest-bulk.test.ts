// Well over 50,000 events in one tenant, pulled whole through Mural's nextToken paging (at the
// documented maximum page size and at a smaller one) and through MadKudu's unpaged listing: every
// id exactly once, none of the other tenant's, in reverse chronological order with ties broken by
// id (descending), exactly as the keyset scan orders them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH } from '../src/audit/service.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { byNewestFirst } from './support/rest.ts';

const TOTAL = 60_000;
const OTHER = 300;
/** Three events share each timestamp, so the tie-break decides the order of a third of them. */
const PER_INSTANT = 3;
const STEP_MS = 20_000;
const CONCURRENCY = 4;

type Inserted = { id: string; at: number };

let t: TestGateway;
let tenant: TestTenant;
let other: TestTenant;
let expected: string[];
let otherIds: Set<string>;
const timings: Record<string, number> = {};

/** Deterministic Fisher-Yates, so insertion order (and so id order) is unrelated to time order. */
function shuffled<T>(values: T[], seed: number): T[] {
  const out = [...values];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Records through the service layer in MAX_BATCH chunks, a few chunks in flight at once. */
async function insert(
  tenant: { id: number; slug: string },
  inputs: Record<string, unknown>[],
): Promise<Inserted[]> {
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < inputs.length; i += MAX_BATCH) chunks.push(inputs.slice(i, i + MAX_BATCH));
  const out: Inserted[] = [];
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as Record<string, unknown>[];
      const results = await t.gateway.audit.recordEvents(operatorViewer(tenant), chunk);
      for (const r of results) {
        if (!r.ok) throw r.error;
        out.push({ id: r.event.id, at: r.event.occurredAt.getTime() });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

beforeAll(async () => {
  const started = performance.now();
  t = await startTestGateway();
  tenant = await t.newTenant('bulk');
  other = await t.newTenant('bulk-other');
  // All inside Mural's default window (the past 7 days), the newest a few hours ago.
  const oldest = Date.now() - 5 * 86_400_000;
  const times = Array.from({ length: TOTAL }, (_, i) => oldest + Math.floor(i / PER_INSTANT) * STEP_MS);
  // Lean events: every optional field would only add index entries and bytes to insert and parse.
  const inputs = shuffled(times, 7).map((at, i) => ({
    action: ['logged-in', 'CREATE_MURAL', 'logged-out'][i % 3] as string,
    occurredAt: new Date(at).toISOString(),
  }));
  const otherInputs = Array.from({ length: OTHER }, (_, i) => ({
    action: 'logged-in',
    occurredAt: new Date(oldest + i * 1_000_003).toISOString(),
  }));
  timings.setup = performance.now() - started;
  const inserting = performance.now();
  const [mine, theirs] = await Promise.all([insert(tenant, inputs), insert(other, otherInputs)]);
  timings.insert = performance.now() - inserting;
  expected = mine.sort(byNewestFirst).map((e) => e.id);
  otherIds = new Set(theirs.map((e) => e.id));
  expect(new Set(expected).size).toBe(TOTAL);
}, 300_000);

afterAll(async () => {
  await t?.close();
  console.info(
    `[rest-bulk ${t?.kind}] ${Object.entries(timings)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`)
      .join(', ')}`,
  );
});

/**
 * Pulls every page of the default window; returns the ids in response order and the page sizes.
 * Without `first`, the first request leaves maxResults to its default.
 */
async function pullMural(maxResults: number, first?: number): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let token: string | undefined;
  do {
    const size = token === undefined ? first : maxResults;
    const qs = new URLSearchParams(size === undefined ? {} : { maxResults: String(size) });
    if (token) qs.set('nextToken', token);
    const res = await t.fetch(`/enterprise/v1/audit-log?${qs}`, {
      headers: { accept: 'application/json', authorization: `apikey ${tenant.readKey}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { id: string }[]; nextToken?: string };
    pages.push(body.data.length);
    for (const e of body.data) ids.push(e.id);
    token = body.nextToken;
    expect(pages.length).toBeLessThanOrEqual(Math.ceil(TOTAL / maxResults));
  } while (token);
  return { ids, pages };
}

function expectExactly(ids: string[]) {
  expect(ids.filter((id) => otherIds.has(id))).toEqual([]);
  expect(new Set(ids).size).toBe(ids.length); // nothing repeated
  expect(ids.length).toBe(TOTAL); // nothing missing (with the line above)
  expect(ids).toEqual(expected); // and in the documented order
}

describe(`pulling ${TOTAL.toLocaleString('en')} events`, () => {
  it('Mural: the default page (50000), then ?maxResults=50000&nextToken=…; a token only on the first', async () => {
    const started = performance.now();
    const { ids, pages } = await pullMural(50_000);
    timings.mural50000 = performance.now() - started;
    expect(pages).toEqual([50_000, TOTAL - 50_000]);
    expectExactly(ids);
  });

  it('Mural nextToken paging at maxResults=7000', async () => {
    const started = performance.now();
    const { ids, pages } = await pullMural(7_000, 7_000);
    timings.mural7000 = performance.now() - started;
    const full = Math.floor(TOTAL / 7_000);
    expect(pages).toEqual([...Array.from({ length: full }, () => 7_000), TOTAL - full * 7_000]);
    expectExactly(ids);
  });

  it('MadKudu GET /v1/audit: one unpaged, streamed response with all of them', async () => {
    const started = performance.now();
    const res = await t.fetch('/v1/audit', { key: tenant.readKey });
    expect(res.status).toBe(200);
    expect(res.body).toBeInstanceOf(ReadableStream);
    const body = (await res.json()) as { events: { id: string; tenant: number }[] };
    timings.madkudu = performance.now() - started;
    expect(body.events.every((e) => e.tenant === tenant.id)).toBe(true);
    expectExactly(body.events.map((e) => e.id));
  });
});
