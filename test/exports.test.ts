// Filtered exports through the real HTTP handler: the filters, CSV quoting and formula
// neutralisation, BOM, resuming from a cursor, a restricted viewer's slice, and the offline check
// of an NDJSON export (which passes, and fails when an exported event is changed or removed).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileReport, verifyExportFile } from '../src/audit/export-file.ts';
import type { KeyRing } from '../src/audit/signer.ts';
import { EXAMPLE_TABS } from '../src/graphql/graphiql.ts';
import { dbKind, startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { recordBatch } from './support/rest.ts';
import { superuser } from './support/superuser.ts';

// A full collection on demand, without starting the test runner with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

let t: TestGateway;
let tenant: TestTenant;

const HOSTILE = [
  '=HYPERLINK("http://evil.test","x")',
  '+1+2',
  '-3+4',
  '@SUM(A1:A2)',
  '\tindented',
  '\rcarriage',
  'plain "quoted", with comma',
  'two\r\nlines',
  'Zürich — 東京 😀',
];

/** 30 events: actions a/b/c in turn, actor-0..2, one hostile title each for the first nine. */
const EVENTS = Array.from({ length: 30 }, (_, i) => ({
  action: ['export.a', 'export.b', 'export.c'][i % 3],
  title: HOSTILE[i] ?? `event ${i}`,
  actor: { id: `actor-${i % 5}`, name: i === 4 ? '-negative name' : `Actor ${i % 5}` },
  target: { kind: 'doc', id: `doc-${i}` },
  groupId: i < 15 ? 'group-early' : 'group-late',
  metadata: { n: i, note: i === 2 ? '=1+1' : 'ok' },
  occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
}));

beforeAll(async () => {
  t = await startTestGateway({ CHECKPOINT_EVERY_EVENTS: '7' });
  tenant = await t.newTenant('exports');
  const ids = await recordBatch(t, tenant.key, EVENTS);
  expect(ids).toHaveLength(30);
});
afterAll(async () => {
  await t?.close();
});

const get = (path: string, key = tenant.readKey) => t.fetch(path, { key });

async function csv(query: string, key?: string): Promise<{ text: string; records: string[][] }> {
  const res = await get(`/v1/exports/events.csv${query}`, key);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/csv');
  const text = await res.text();
  return { text, records: parse(text, { bom: true, relax_column_count: false }) as string[][] };
}

async function ndjson(query: string, key?: string): Promise<string[]> {
  const res = await get(`/v1/exports/events.ndjson${query}`, key);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.text()).split('\n').filter((l) => l !== '');
}

async function verify(lines: string[], keys: KeyRing = t.gateway.signer.ring): Promise<FileReport> {
  async function* feed() {
    yield* lines;
  }
  return verifyExportFile(feed(), keys);
}

const events = (lines: string[]) =>
  lines.map((l) => JSON.parse(l)).filter((v) => v.type === 'event') as {
    seq: number;
    hash: string;
    cursor: string;
    event: Record<string, unknown> & { action: string; title: string };
  }[];

describe('CSV export', () => {
  it('has a header row and one row per matching event, in sequence order', async () => {
    const { records } = await csv('?actions=export.a&actions=export.b');
    const [header, ...rows] = records;
    expect(header?.slice(0, 6)).toEqual(['sequence', 'id', 'occurredAt', 'receivedAt', 'sentAt', 'action']);
    expect(header?.at(-1)).toBe('cursor');
    expect(rows).toHaveLength(20);
    const action = header?.indexOf('action') as number;
    expect(new Set(rows.map((r) => r[action]))).toEqual(new Set(['export.a', 'export.b']));
    const seqs = rows.map((r) => Number(r[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('combines filters: time window, actor, group', async () => {
    const { records } = await csv(
      '?since=2026-01-01T00:10:00Z&until=2026-01-01T00:20:00Z&actorIds=actor-1&groupIds=group-late',
    );
    const rows = records.slice(1);
    // Minutes 10..19 by actor-1 (i % 5 === 1) in group-late (i >= 15): i = 16.
    expect(rows.map((r) => r[records[0]?.indexOf('targetId') as number])).toEqual(['doc-16']);
  });

  it('quotes per RFC 4180 and neutralises cells that could run as formulas', async () => {
    const { text, records } = await csv('?groupIds=group-early');
    const header = records[0] as string[];
    const title = header.indexOf('title');
    const titles = records.slice(1, 10).map((r) => r[title]);
    expect(titles).toEqual([
      `'=HYPERLINK("http://evil.test","x")`,
      `'+1+2`,
      `'-3+4`,
      `'@SUM(A1:A2)`,
      `'\tindented`,
      `'\rcarriage`,
      'plain "quoted", with comma',
      'two\r\nlines',
      'Zürich — 東京 😀',
    ]);
    // On the wire: doubled quotes inside a quoted cell, CRLF record ends, UTF-8 without BOM.
    expect(text).toContain(`"'=HYPERLINK(""http://evil.test"",""x"")"`);
    expect(text).toContain('"two\r\nlines"');
    expect(text.charCodeAt(0)).not.toBe(0xfeff);
    expect(text.split('\r\n')[0]).toBe(header.join(','));
    const name = header.indexOf('actorName');
    expect(records[5]?.[name]).toBe(`'-negative name`);
    // Nested JSON is one cell, itself neutralised only when it starts like a formula (it cannot).
    const metadata = header.indexOf('metadata');
    expect(JSON.parse(records[3]?.[metadata] as string)).toEqual({ n: 2, note: '=1+1' });
  });

  it('starts with a BOM when asked', async () => {
    const res = await get('/v1/exports/events.csv?bom=true&actions=export.c');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });

  it('resumes after a row: the rest, exactly', async () => {
    const full = (await csv('?actions=export.b')).records;
    const cursorAt = (full[0] as string[]).indexOf('cursor');
    const cursor = full[4]?.[cursorAt] as string;
    // Events appended after the first part are not in the resumed part: it stops where the first did.
    await recordBatch(t, tenant.key, [{ action: 'export.b', title: 'later' }]);
    const rest = (await csv(`?actions=export.b&after=${encodeURIComponent(cursor)}`)).records;
    expect(rest.slice(1).map((r) => r[0])).toEqual(full.slice(5).map((r) => r[0]));
    const fresh = (await csv('?actions=export.b')).records;
    expect(fresh).toHaveLength(full.length + 1);
  });

  it('refuses bad parameters with a 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['?since=yesterday', 'since'],
      ['?ipAddresses=not-an-ip', 'ipAddresses'],
      ['?actorEmails=nobody', 'actorEmails'],
      ['?bom=yes', 'bom'],
      ['?after=garbage', 'after'],
      ['?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'filter.until'],
      [`?actions=${'x'.repeat(400)}`, 'filter.actions'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/v1/exports/events.csv${query}`);
      expect(res.status, query).toBe(400);
      expect(JSON.stringify(await res.json()), query).toContain(field);
    }
    // A cursor of another filter is refused, not silently applied.
    const cursor = (await csv('?actions=export.a')).records[1]?.at(-1) as string;
    const res = await get(`/v1/exports/events.csv?actions=export.c&after=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
  });

  it('needs the read scope', async () => {
    expect((await get('/v1/exports/events.csv', tenant.writeOnlyKey)).status).toBe(403);
    expect((await t.fetch('/v1/exports/events.ndjson')).status).toBe(401);
  });
});

describe('NDJSON export', () => {
  it('carries each event as hashed, and verifies offline', async () => {
    const lines = await ndjson('?actions=export.a');
    const evs = events(lines);
    expect(evs).toHaveLength(10);
    expect(evs.every((e) => e.event.action === 'export.a')).toBe(true);
    // The evidence format is unaltered: the formula text is there as it was recorded.
    expect(evs[0]?.event.title).toBe('=HYPERLINK("http://evil.test","x")');
    const report = await verify(lines);
    expect(report).toMatchObject({ intact: true, status: 'intact', eventsChecked: 10 });
    expect(report.signedThrough).toBeGreaterThanOrEqual(evs.at(-1)?.seq as number);
  });

  it('fails offline when an exported event is changed', async () => {
    const lines = await ndjson('?actions=export.b');
    const i = lines.findIndex((l) => l.includes('"type":"event"'));
    const changed = lines.map((l, k) => (k === i + 2 ? l.replace('"export.b"', '"export.z"') : l));
    expect((await verify(changed)).break).toMatchObject({ kind: 'modified' });
    // Changed, and its hash recomputed to match: the signed digest still catches it.
    const { createHash } = await import('node:crypto');
    const canonicalize = (await import('canonicalize')).default;
    const rehashed = lines.map((l, k) => {
      if (k !== i + 2) return l;
      const v = JSON.parse(l);
      v.event.title = 'nothing happened';
      v.hash = createHash('sha256')
        .update(canonicalize(v.event) as string)
        .digest('hex');
      return JSON.stringify(v);
    });
    const report = await verify(rehashed);
    expect(report.status).toBe('broken');
    expect(report.break?.detail).toContain('differ from those the gateway signed');
  });

  it('fails offline when an event is removed from the middle, or the end is cut off', async () => {
    const lines = await ndjson('?groupIds=group-early');
    const i = lines.findIndex((l) => l.includes('"type":"event"'));
    const removed = lines.filter((_, k) => k !== i + 3);
    const report = await verify(removed);
    expect(report.status).toBe('broken');
    // group-early is 15 neighbouring events: the gap shows as a broken link right away.
    expect(report.break?.detail).toMatch(/does not link|covers 15 events/);
    const cut = lines.slice(0, -1);
    expect((await verify(cut)).break).toMatchObject({ kind: 'missing' });
  });

  it('resumes from a line: the rest, exactly, with a proof of its own', async () => {
    const full = events(await ndjson('?actions=export.c'));
    const restLines = await ndjson(
      `?actions=export.c&after=${encodeURIComponent(full[3]?.cursor as string)}`,
    );
    expect(events(restLines).map((e) => e.seq)).toEqual(full.slice(4).map((e) => e.seq));
    expect(await verify(restLines)).toMatchObject({ status: 'intact', eventsChecked: full.length - 4 });
  });

  it('stops with an error line instead of signing when the stored chain is broken', async () => {
    const other = await t.newTenant('exports-tamper');
    await recordBatch(
      t,
      other.key,
      Array.from({ length: 6 }, (_, i) => ({ action: i === 1 ? 'hit' : 'miss' })),
    );
    const su = superuser(t);
    try {
      // A superuser edits event 3's canonical bytes and hash consistently: its successor's link breaks.
      await su.run((tx) =>
        tx.execute(sql`update audit_events set canonical = replace(canonical, '"miss"', '"edit"'),
          hash = sha256(convert_to(replace(canonical, '"miss"', '"edit"'), 'UTF8'))
          where tenant_id = ${other.id} and seq = 3`),
      );
    } finally {
      await su.close();
    }
    const lines = await ndjson('?actions=hit', other.readKey);
    expect(lines.at(-1)).toContain('"type":"error"');
    expect(lines.some((l) => l.includes('"type":"export"'))).toBe(false);
    expect((await verify(lines)).status).toBe('broken');
  });
});

describe('checkpoints on the way', () => {
  it('stop the export when a validly signed one contradicts the chain, and never when a forged one does', async () => {
    const insertCheckpoint = async (tenantId: number, seq: number, statement: string, signature: string) => {
      const su = superuser(t);
      try {
        await su.run((tx) =>
          tx.execute(sql`insert into chain_checkpoints (tenant_id, kind, seq, hash, signed_at, key_id, statement, signature)
            values (${tenantId}, 'checkpoint', ${seq}, decode(${'ab'.repeat(32)}, 'hex'), now(), ${t.gateway.signer.keyId},
              ${statement}, decode(${signature}, 'base64'))`),
        );
      } finally {
        await su.close();
      }
    };
    const wrong = {
      type: 'checkpoint' as const,
      seq: 2,
      hash: 'ab'.repeat(32),
      time: new Date().toISOString(),
    };
    // Signed with the gateway's own key: the chain disagrees with a genuine statement.
    const signed = await t.newTenant('exports-cp-signed');
    await recordBatch(
      t,
      signed.key,
      Array.from({ length: 4 }, () => ({ action: 'cp' })),
    );
    const genuine = t.gateway.signer.sign({ ...wrong, tenant: signed.id });
    await insertCheckpoint(signed.id, 2, genuine.statement, genuine.signature);
    const stopped = await ndjson('', signed.readKey);
    expect(stopped.at(-1)).toContain('does not match the signed checkpoint at 2');
    expect(stopped.some((l) => l.includes('"type":"export"'))).toBe(false);
    // The same claim under a signature that does not verify proves nothing: no alarm.
    const forged = await t.newTenant('exports-cp-forged');
    await recordBatch(
      t,
      forged.key,
      Array.from({ length: 4 }, () => ({ action: 'cp' })),
    );
    const statement = t.gateway.signer.sign({ ...wrong, tenant: forged.id }).statement;
    await insertCheckpoint(forged.id, 2, statement, Buffer.alloc(64, 7).toString('base64'));
    const lines = await ndjson('', forged.readKey);
    expect(lines.some((l) => l.includes('"type":"error"'))).toBe(false);
    expect(await verify(lines)).toMatchObject({ status: 'intact', eventsChecked: 4 });
  });
});

describe('search', () => {
  it('exports what filter.search finds in GraphQL, combined with the other filters', async () => {
    // Case and accents are ignored: "zurich" finds "Zürich"; every word must occur.
    const zurich = (await csv('?search=zurich')).records;
    const title = zurich[0]?.indexOf('title') as number;
    expect(zurich.slice(1).map((r) => r[title])).toEqual(['Zürich — 東京 😀']);
    const query = '?search=event&actions=export.a';
    const rows = (await csv(query)).records.slice(1);
    const listed = await t.gqlRaw(
      {
        query:
          'query($f: AuditEventFilter) { auditEvents(first: 100, filter: $f, orderBy: { field: OCCURRED_AT, direction: ASC }) { edges { node { sequence title } } } }',
        variables: { f: { search: 'event', actions: ['export.a'] } },
      },
      tenant.readKey,
    );
    expect(listed.errors).toBeUndefined();
    type Listing = { edges: { node: { sequence: number; title: string } }[] };
    const nodes = (listed.data as { auditEvents: Listing }).auditEvents.edges;
    expect(nodes.length).toBeGreaterThan(0);
    expect(rows.map((r) => Number(r[0]))).toEqual(nodes.map((e) => e.node.sequence));
    expect(rows.every((r) => r[title]?.startsWith('event '))).toBe(true);
  });

  it('an NDJSON export with a search proves its events and resumes under the same search', async () => {
    const lines = await ndjson('?search=actor&groupIds=group-late');
    const evs = events(lines);
    expect(evs).toHaveLength(15);
    expect(await verify(lines)).toMatchObject({ status: 'intact', eventsChecked: 15 });
    const header = JSON.parse(lines[0] as string);
    expect(header.filter).toMatchObject({ search: 'actor', groupIds: ['group-late'] });
    const rest = await ndjson(
      `?search=actor&groupIds=group-late&after=${encodeURIComponent(evs[9]?.cursor as string)}`,
    );
    expect(events(rest).map((e) => e.seq)).toEqual(evs.slice(10).map((e) => e.seq));
    expect(await verify(rest)).toMatchObject({ status: 'intact', eventsChecked: 5 });
    // A cursor belongs to its search term.
    const other = await get(
      `/v1/exports/events.ndjson?search=actors&groupIds=group-late&after=${encodeURIComponent(evs[9]?.cursor as string)}`,
    );
    expect(other.status).toBe(400);
    expect(JSON.stringify(await other.json())).toContain('after');
  });

  it('refuses a term that cannot be searched with a 400 on filter.search', async () => {
    const nineWords = Array.from({ length: 9 }, (_, i) => `word${i}`).join(' ');
    for (const term of ['ab', 'event actor 3', 'x'.repeat(201), nineWords, ' ']) {
      for (const format of ['csv', 'ndjson']) {
        const res = await get(`/v1/exports/events.${format}?search=${encodeURIComponent(term)}`);
        expect(res.status, term).toBe(400);
        const body = (await res.json()) as { parameter?: string; message: string };
        expect(body.parameter, term).toBe('filter.search');
      }
    }
  });
});

describe.runIf(dbKind === 'postgres')('a search export that runs too long', () => {
  it('is refused by SEARCH_TIMEOUT_MS before the response begins, naming filter.search', async () => {
    const slow = await startTestGateway({ SEARCH_TIMEOUT_MS: '1' });
    try {
      const busy = await slow.newTenant('exports-search-slow');
      const many = Array.from({ length: 1000 }, (_, i) => ({
        action: 'n',
        description: `common word ${i}`,
        metadata: { a: { b: [`v${i}`, i, 'more text'] } },
      }));
      for (let batch = 0; batch < 2; batch++) await recordBatch(slow, busy.key, many);
      for (const format of ['csv', 'ndjson']) {
        const res = await slow.fetch(`/v1/exports/events.${format}?search=common`, { key: busy.readKey });
        expect(res.status, format).toBe(400);
        const body = (await res.json()) as { parameter?: string; message: string };
        expect(body.parameter).toBe('filter.search');
        expect(body.message).toMatch(/matches too much to answer within 0.001 s/);
      }
    } finally {
      await slow.close();
    }
  });
});

describe('the GraphiQL ExportEvents tab', () => {
  it('shows links that export', async () => {
    const tab = EXAMPLE_TABS.find((x) => x.name === 'ExportEvents');
    const links = [...(tab?.query.matchAll(/^#\s+(\/v1\/exports\/\S+)$/gm) ?? [])].map((m) => m[1] as string);
    expect(links.map((l) => l.split('?')[0])).toEqual([
      '/v1/exports/events.csv',
      '/v1/exports/events.ndjson',
    ]);
    for (const link of links) expect((await get(link)).status, link).toBe(200);
  });
});

describe('a restricted viewer token', () => {
  it('exports only its slice, whatever the filter asks', async () => {
    const res = await t.fetch('/v1/viewer-tokens', {
      method: 'POST',
      key: tenant.readKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ttlSeconds: 120, restriction: { actorIds: ['actor-2'] } }),
    });
    const { token } = (await res.json()) as { token: string };
    const rows = (await csv('?actions=export.a&actions=export.b&actions=export.c', token)).records.slice(1);
    const actor = (await csv('', token)).records[0]?.indexOf('actorId') as number;
    expect(rows.length).toBe(EVENTS.filter((e) => e.actor.id === 'actor-2').length);
    expect(rows.every((r) => r[actor] === 'actor-2')).toBe(true);
    const lines = await ndjson('?groupIds=group-early', token);
    expect(events(lines).map((e) => (e.event.actor as { id: string }).id)).toEqual([
      'actor-2',
      'actor-2',
      'actor-2',
    ]);
    expect(await verify(lines)).toMatchObject({ status: 'intact', eventsChecked: 3 });
  });
});

// A million events, inserted behind the gateway's back as a valid chain (canonical documents
// with only the fields the chain needs; the gateway walks and hashes them like any others).
describe.runIf(dbKind === 'postgres')('a 1M-event export', () => {
  it('streams in flat memory, pauses reads for a slow reader, and signs the whole export', async () => {
    const N = Number(process.env.EXPORT_ROWS ?? 1_000_000);
    const started = performance.now();
    const big = await t.newTenant('exports-1m');
    const su = superuser(t);
    try {
      await su.run(async (tx) => {
        // This file's own database: the secondary indexes only slow the load (the export walks the
        // (tenant, seq) key), and sequential ids append to the primary key instead of splitting it.
        await tx.execute(sql`set local synchronous_commit = off`);
        for (const index of [
          'audit_events_time_idx',
          'audit_events_action_idx',
          'audit_events_actor_idx',
          'audit_events_target_kind_idx',
          'audit_events_group_idx',
          'audit_events_actor_email_idx',
          'audit_events_target_id_idx',
          'audit_events_ip_idx',
        ])
          await tx.execute(sql.raw(`drop index if exists ${index}`));
        await tx.execute(sql`
          with recursive c(seq, canonical, hash) as (
            select 1::bigint, x, sha256(convert_to(x, 'UTF8'))
              from (select format('{"action":"bulk","prev":"%s","seq":1,"tenant":%s,"v":1}', repeat('0', 64), ${big.id}::int) as x) s
            union all
            select seq + 1, y, sha256(convert_to(y, 'UTF8'))
              from (select seq, format('{"action":"bulk","prev":"%s","seq":%s,"tenant":%s,"v":1}', encode(hash, 'hex'), seq + 1, ${big.id}::int) as y from c where seq < ${N}) n
          )
          insert into audit_events (tenant_id, seq, id, action, occurred_at, received_at, metadata, canonical, hash)
          select ${big.id}, seq, ('ffffffff' || lpad(to_hex(seq), 24, '0'))::uuid, 'bulk', now(), now(), '{}', canonical, hash from c`);
        await tx.execute(sql`
          insert into chain_heads (tenant_id, seq, hash)
          select tenant_id, seq, hash from audit_events where tenant_id = ${big.id} and seq = ${N}
          on conflict (tenant_id) do update set seq = excluded.seq, hash = excluded.hash`);
      });
    } finally {
      await su.close();
    }

    const loaded = performance.now();
    console.info(`1M export: loaded in ${Math.round(loaded - started)} ms`);
    const res = await t.fetch('/v1/exports/events.ndjson?actions=bulk', { key: big.readKey });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const samples: { rss: number; heap: number }[] = [];
    const retained: number[] = [];
    let lines = 0;
    let chunks = 0;
    let paused: number[] = [];
    async function* feed(): AsyncGenerator<string> {
      let rest = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks += 1;
        if (chunks === 5) {
          // A reader that stops reading: the export stops querying.
          await new Promise((r) => setTimeout(r, 300));
          const before = t.queries.length;
          await new Promise((r) => setTimeout(r, 500));
          paused = [before, t.queries.length];
        }
        if (chunks % 5 === 0) {
          const m = process.memoryUsage();
          samples.push({ rss: m.rss, heap: m.heapUsed });
        }
        if (chunks % 200 === 0) {
          // What survives a full collection: what the export keeps, not when V8 chose to collect.
          collectGarbage();
          retained.push(process.memoryUsage().heapUsed);
        }
        const parts = (rest + decoder.decode(value, { stream: true })).split('\n');
        rest = parts.pop() ?? '';
        lines += parts.length;
        yield* parts;
      }
      if (rest) yield rest;
    }
    let last = '';
    for await (const line of feed()) if (line !== '') last = line;
    console.info(`1M export: streamed in ${Math.round(performance.now() - loaded)} ms`);
    // Whole: the gateway walked every link and signed the million events it sent.
    expect(JSON.parse(JSON.parse(last).statement)).toMatchObject({ type: 'export', count: N, seq: N });
    expect(lines).toBe(N + 3);
    expect(paused[1]).toBe(paused[0]);
    // Flat: the heap is a sawtooth (garbage collected in its own time), so compare the peaks of
    // each quarter of the stream: a leak of even 100 bytes per row would add ~25 MB per quarter.
    const mb = (n: number) => Math.round(n / 2 ** 20);
    const quarter = Math.floor(samples.length / 4);
    const peaks = (key: 'heap' | 'rss') =>
      [0, 1, 2, 3].map((q) =>
        mb(Math.max(...samples.slice(q * quarter, (q + 1) * quarter).map((x) => x[key]))),
      );
    console.info(
      `1M export: ${chunks} chunks, ${samples.length} samples; heap peaks by quarter ${peaks('heap').join(', ')} MB; rss ${peaks('rss').join(', ')} MB`,
    );
    console.info(`1M export: heap after full collections ${retained.map(mb).join(', ')} MB`);
    expect(samples.length).toBeGreaterThan(5);
    expect(retained.length).toBeGreaterThan(4);
    // Retained heap from the second of these points on: a leak of 100 bytes per row would add
    // ~75 MB over the three quarters after it.
    const settled = retained.slice(1);
    expect(mb(Math.max(...settled))).toBeLessThan(mb(settled[0] as number) + 24);
    const [, rss2, rss3, rss4] = peaks('rss') as number[];
    expect(Math.max(rss3 as number, rss4 as number)).toBeLessThan((rss2 as number) + 64);
  }, 600_000);
});
