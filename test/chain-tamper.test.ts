// Random histories, one tampering applied directly in SQL as a superuser (or to an exported file),
// and verification — of the whole chain, of a range around the tampering, or of the file offline —
// must fail at the right sequence number; untouched histories must always verify.
// PROPERTY_RUNS sets how many random cases each property tries (test/support/property-runs.ts).

import canonicalize from 'canonicalize';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, sealEvent, sha256Hex } from '../src/audit/chain.ts';
import { verifyExportFile } from '../src/audit/export-file.ts';
import { textProblem } from '../src/audit/model.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createTenant } from '../src/auth/admin.ts';
import type { Tx } from '../src/db/client.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';
import { rows, type Superuser, superuser } from './support/superuser.ts';

const numRuns = propertyRuns(200);
// A case takes about a tenth of a second here, several times that on a loaded machine.
const timeout = Math.max(60_000, numRuns * 1_000);

let t: TestGateway;
let su: Superuser;

beforeAll(async () => {
  t = await startTestGateway();
  su = superuser(t);
});
afterAll(async () => {
  await su?.close();
  await t?.close();
});

const cleanText = (max: number) =>
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: max }).filter((s) => textProblem(s, false) === null);
const jsonLeaf = fc.oneof(
  cleanText(12),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
);
const metadata = fc.dictionary(
  cleanText(8),
  fc.oneof(
    jsonLeaf,
    fc.array(jsonLeaf, { maxLength: 3 }),
    fc.dictionary(cleanText(6), jsonLeaf, { maxKeys: 3 }),
  ),
  { maxKeys: 4 },
);
const event = fc.record(
  {
    action: fc.constantFrom('login', 'logged-in', 'CREATE_MURAL', 'user.login.success', 'enable'),
    description: cleanText(30),
    actor: fc.record(
      { id: fc.constantFrom('u1', 'u2', 'ü3'), email: fc.constantFrom('a@example.com', 'b@example.org') },
      { requiredKeys: [] },
    ),
    target: fc.record({ kind: fc.constantFrom('feature', 'group'), id: cleanText(10) }, { requiredKeys: [] }),
    groupId: fc.constantFrom('g1', 'g2'),
    feature: fc.record({ name: fc.constantFrom('general', 'billing'), metas: metadata }),
    ipAddress: fc.constantFrom('192.30.252.12', '2001:db8::1'),
    occurredAt: fc
      .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2026, 0, 1) })
      .map((ms) => new Date(ms).toISOString()),
    sentAt: fc
      .integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2026, 0, 1) })
      .map((ms) => new Date(ms).toISOString()),
    metadata,
  },
  { requiredKeys: ['action'] },
);

const EDITABLE: Record<string, string> = {
  action: "action = action || 'x'",
  description: "description = coalesce(description, '') || 'x'",
  name: "name = coalesce(name, '') || 'x'",
  title: "title = coalesce(title, '') || 'x'",
  actor_id: "actor_id = coalesce(actor_id, '') || 'x'",
  actor_email: "actor_email = coalesce(actor_email, '') || 'x'",
  actor_type: "actor_type = coalesce(actor_type, '') || 'x'",
  group_id: "group_id = coalesce(group_id, '') || 'x'",
  target_kind: "target_kind = coalesce(target_kind, '') || 'x'",
  target_id: "target_id = coalesce(target_id, '') || 'x'",
  additional_id: "additional_id = coalesce(additional_id, '') || 'x'",
  feature_name: "feature_name = coalesce(feature_name, '') || 'x'",
  ip_address: "ip_address = coalesce(ip_address, '') || 'x'",
  occurred_at: "occurred_at = occurred_at + interval '1 millisecond'",
  sent_at: "sent_at = coalesce(sent_at, occurred_at) + interval '1 millisecond'",
  received_at: "received_at = received_at - interval '1 millisecond'",
  metadata: "metadata = jsonb_build_object('wrapped', metadata)",
  id: 'id = gen_random_uuid()',
};

type Tamper =
  | { kind: 'none' }
  | { kind: 'edit-field'; at: number; column: string }
  | { kind: 'edit-canonical'; at: number }
  | { kind: 'edit-hash'; at: number }
  | { kind: 'rehash'; at: number }
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'edit-head'; how: 'hash' | 'seq-up' | 'seq-down' };

const tamper: fc.Arbitrary<Tamper> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({
    kind: fc.constant('edit-field' as const),
    at: fc.nat(),
    column: fc.constantFrom(...Object.keys(EDITABLE)),
  }),
  fc.record({ kind: fc.constant('edit-canonical' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('edit-hash' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('rehash' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('edit-head' as const), how: fc.constantFrom('hash', 'seq-up', 'seq-down') }),
);

type Link = { seq: number; hash: string; canonical: string };

async function chainOf(tx: Tx, tenantId: number): Promise<Link[]> {
  const found = await rows<{ seq: string | number; hash: Uint8Array; canonical: string }>(
    tx,
    sql`select seq, hash, canonical from audit_events where tenant_id = ${tenantId} order by seq`,
  );
  return found.map((r) => ({
    seq: Number(r.seq),
    hash: Buffer.from(r.hash).toString('hex'),
    canonical: r.canonical,
  }));
}

/** Moves every event from `from` on by `by` places, without tripping the unique (tenant, seq) index. */
async function shift(tx: Tx, tenantId: number, from: number, by: number) {
  await tx.execute(
    sql`update audit_events set seq = seq + 1000000 where tenant_id = ${tenantId} and seq >= ${from}`,
  );
  await tx.execute(
    sql`update audit_events set seq = seq - 1000000 + ${by} where tenant_id = ${tenantId} and seq >= 1000000`,
  );
}

/** A forged event a competent forger would write: a valid link after `prev`, columns matching. */
async function insertForged(tx: Tx, tenantId: number, seq: number, prev: string) {
  const now = new Date(Date.UTC(2025, 5, 1));
  const forged = {
    id: uuidv7(),
    tenantId,
    sequence: seq,
    action: 'forged.action',
    name: null,
    title: null,
    description: null,
    actor: null,
    groupId: null,
    target: null,
    additionalId: null,
    feature: null,
    ipAddress: null,
    occurredAt: now,
    sentAt: null,
    receivedAt: now,
    metadata: {},
  };
  const { canonical, hash } = sealEvent(forged, prev);
  await tx.execute(sql`
    insert into audit_events (tenant_id, seq, id, action, occurred_at, received_at, metadata, canonical, hash)
    values (${tenantId}, ${seq}, ${forged.id}::uuid, ${forged.action}, ${now.toISOString()}::timestamptz,
            ${now.toISOString()}::timestamptz, '{}'::jsonb, ${canonical}, decode(${hash}, 'hex'))`);
}

/** Applies the tampering; returns the sequence number verification must name (null: intact). */
async function apply(tx: Tx, tenantId: number, n: number, tm: Tamper): Promise<number | null> {
  const pos = (i: number) => (i % n) + 1;
  const where = (seq: number) => sql`tenant_id = ${tenantId} and seq = ${seq}`;
  switch (tm.kind) {
    case 'none':
      return null;
    case 'edit-field': {
      const k = pos(tm.at);
      await tx.execute(
        sql`update audit_events set ${sql.raw(EDITABLE[tm.column] as string)} where ${where(k)}`,
      );
      return k;
    }
    case 'edit-canonical': {
      const k = pos(tm.at);
      await tx.execute(
        sql`update audit_events set canonical = replace(canonical, '"v":1', '"v":1 ') where ${where(k)}`,
      );
      return k;
    }
    case 'edit-hash': {
      const k = pos(tm.at);
      await tx.execute(sql`update audit_events set hash = sha256(hash) where ${where(k)}`);
      return k;
    }
    case 'rehash': {
      // A careful attacker: changes an event and recomputes its canonical bytes and hash.
      if (n < 2) return null;
      const k = (tm.at % (n - 1)) + 1;
      const link = (await chainOf(tx, tenantId)).find((l) => l.seq === k) as Link;
      const doc = JSON.parse(link.canonical);
      doc.action = `${doc.action}-rewritten`;
      const { default: canonicalize } = await import('canonicalize');
      const canonical = canonicalize(doc) as string;
      const hash = (await import('node:crypto')).createHash('sha256').update(canonical).digest('hex');
      await tx.execute(
        sql`update audit_events set action = ${doc.action}, canonical = ${canonical}, hash = decode(${hash}, 'hex') where ${where(k)}`,
      );
      return k;
    }
    case 'delete': {
      const k = pos(tm.at);
      await tx.execute(sql`delete from audit_events where ${where(k)}`);
      return k;
    }
    case 'insert': {
      const k = (tm.at % (n + 1)) + 1;
      const links = await chainOf(tx, tenantId);
      const prev = k === 1 ? GENESIS_HASH : (links.find((l) => l.seq === k - 1) as Link).hash;
      await shift(tx, tenantId, k, 1);
      await insertForged(tx, tenantId, k, prev);
      return k;
    }
    case 'swap': {
      if (n < 2) return null;
      const a = pos(tm.a);
      let b = pos(tm.b);
      if (a === b) b = (b % n) + 1;
      await tx.execute(sql`update audit_events set seq = 3000000 where ${where(a)}`);
      await tx.execute(sql`update audit_events set seq = ${a} where ${where(b)}`);
      await tx.execute(sql`update audit_events set seq = ${b} where ${where(3000000)}`);
      return Math.min(a, b);
    }
    case 'truncate': {
      const k = pos(tm.at);
      await tx.execute(sql`delete from audit_events where tenant_id = ${tenantId} and seq >= ${k}`);
      return k;
    }
    case 'edit-head': {
      const head = sql`tenant_id = ${tenantId}`;
      if (tm.how === 'hash') {
        await tx.execute(sql`update chain_heads set hash = sha256(hash) where ${head}`);
        return n;
      }
      await tx.execute(sql`update chain_heads set seq = seq + ${tm.how === 'seq-up' ? 1 : -1} where ${head}`);
      // One more than stored: the last event is missing; one fewer: the last event is an extra.
      return tm.how === 'seq-up' ? n + 1 : n;
    }
  }
}

let runs = 0;

/** Which stretch of the chain a property case verifies: all of it, or a range around the tampering. */
type Scope = { kind: 'whole' } | { kind: 'range'; before: number; after: number };
const scope: fc.Arbitrary<Scope> = fc.oneof(
  fc.constant({ kind: 'whole' as const }),
  // Half the ranges end right at the tampering: where a deletion at the range's end hides.
  fc.record({
    kind: fc.constant('range' as const),
    before: fc.nat({ max: 4 }),
    after: fc.oneof(fc.constant(0), fc.nat({ max: 4 })),
  }),
);

/** Tamperings that touch one place, so a range that contains it must name it. */
const SINGLE_PLACE = new Set(['edit-field', 'edit-canonical', 'edit-hash', 'rehash', 'delete']);

/**
 * The range to verify for a tampering at `at`: it contains `at`, and it reaches past `at` when
 * only the next event's link shows the edit (a rewrite with a recomputed hash). A range may end
 * exactly at a deleted event: it must still notice that the event is gone.
 */
function rangeAround(at: number, n: number, tm: Tamper, sc: Scope & { kind: 'range' }) {
  const from = Math.max(1, at - sc.before);
  const minTo = tm.kind === 'rehash' ? Math.min(at + 1, n) : at;
  return { fromSeq: from, toSeq: Math.min(n, minTo + sc.after) };
}

describe('tamper evidence', { timeout }, () => {
  it('detects every tampering at the right sequence number, whole or in a range, and never flags an untouched history', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { minLength: 1, maxLength: 10 }),
        tamper,
        scope,
        async (events, tm, sc) => {
          const tenant = await createTenant(
            t.gateway.database,
            `tamper-${Date.now().toString(36)}-${runs++}`,
          );
          const stored = await t.gateway.audit.recordEvents(operatorViewer(tenant), events);
          expect(stored.every((r) => r.ok)).toBe(true);
          const expected = await su.run((tx) => apply(tx, tenant.id, events.length, tm));
          const ranged = sc.kind === 'range' && (expected === null || SINGLE_PLACE.has(tm.kind));
          const range =
            ranged && sc.kind === 'range' ? rangeAround(expected ?? 1, events.length, tm, sc) : undefined;
          const report = await t.gateway.chain.verify(operatorViewer(tenant), range ?? {});
          const what = `${tm.kind}${range ? ` in ${range.fromSeq}..${range.toSeq}` : ''}`;
          if (expected === null) {
            expect(report.break).toBeNull();
            expect(report.intact).toBe(true);
            expect(report.eventsChecked).toBe(range ? range.toSeq - range.fromSeq + 1 : events.length);
          } else {
            expect(report.intact, `${what} went unnoticed`).toBe(false);
            expect(report.break?.sequence, `${what}: ${report.break?.detail}`).toBe(expected);
          }
        },
      ),
      { numRuns },
    );
  });
});

type FileTamper =
  | { kind: 'none' }
  | { kind: 'edit-event'; at: number }
  | { kind: 'delete-event'; at: number }
  | { kind: 'cut-tail'; at: number }
  | { kind: 'append-forged' }
  | { kind: 'rewrite-last' }
  | { kind: 'edit-statement'; at: number }
  | { kind: 'strip-statements-and-rewrite' };

const fileTamper: fc.Arbitrary<FileTamper> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('edit-event' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete-event' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut-tail' as const), at: fc.nat() }),
  fc.constant({ kind: 'append-forged' as const }),
  fc.constant({ kind: 'rewrite-last' as const }),
  fc.record({ kind: fc.constant('edit-statement' as const), at: fc.nat() }),
  fc.constant({ kind: 'strip-statements-and-rewrite' as const }),
);

type FileExpectation =
  | { verdict: 'intact' }
  | { verdict: 'unsigned' }
  | { verdict: 'broken'; sequence: number | 'before-or-at'; at: number };

const isEventLine = (l: string) => l.startsWith('{"type":"event"');
const isStatementLine = (l: string) => l.startsWith('{"type":"statement"');
const isHeadLine = (l: string) => l.startsWith('{"type":"head"');
const eventSeq = (l: string) => (JSON.parse(l) as { seq: number }).seq;

/** Edits an exported file the way someone handing it over could; returns the lines and what verification must say. */
function tamperFile(
  lines: string[],
  n: number,
  tm: FileTamper,
): { lines: string[]; expect: FileExpectation } {
  const pos = (i: number) => (i % n) + 1;
  const events = lines
    .filter(isEventLine)
    .map((l) => JSON.parse(l) as { seq: number; hash: string; canonical: string });
  const last = events.at(-1) as { seq: number; hash: string; canonical: string };
  const eventLine = (seq: number, canonical: string) =>
    JSON.stringify({ type: 'event', seq, hash: sha256Hex(canonical), canonical });
  switch (tm.kind) {
    case 'none':
      return { lines, expect: { verdict: 'intact' } };
    case 'edit-event': {
      const k = pos(tm.at);
      return {
        lines: lines.map((l) =>
          isEventLine(l) && eventSeq(l) === k ? l.replace('\\"v\\":1', '\\"v\\":1 ') : l,
        ),
        expect: { verdict: 'broken', sequence: k, at: k },
      };
    }
    case 'delete-event': {
      const k = pos(tm.at);
      return {
        lines: lines.filter((l) => !(isEventLine(l) && eventSeq(l) === k)),
        expect: { verdict: 'broken', sequence: k, at: k },
      };
    }
    case 'cut-tail': {
      const k = pos(tm.at);
      return {
        lines: lines.filter((l) => !(isEventLine(l) && eventSeq(l) >= k)),
        expect: { verdict: 'broken', sequence: k, at: k },
      };
    }
    case 'append-forged': {
      const doc = { ...JSON.parse(last.canonical), seq: n + 1, prev: last.hash, id: uuidv7() };
      const forged = eventLine(n + 1, canonicalize(doc) as string);
      return {
        lines: lines.flatMap((l) => (isHeadLine(l) ? [forged, l] : [l])),
        expect: { verdict: 'broken', sequence: n + 1, at: n + 1 },
      };
    }
    case 'rewrite-last': {
      // Recomputed hash: only a signature or the head record can tell; the checkpoint signed at
      // export says the rewrite happened after the previous checkpoint, at or before the last event.
      const doc = { ...JSON.parse(last.canonical), action: 'rewritten' };
      const rewritten = eventLine(n, canonicalize(doc) as string);
      return {
        lines: lines.map((l) => (isEventLine(l) && eventSeq(l) === n ? rewritten : l)),
        expect: { verdict: 'broken', sequence: 'before-or-at', at: n },
      };
    }
    case 'edit-statement': {
      const statements = lines.filter(isStatementLine);
      const target = statements[tm.at % statements.length] as string;
      const record = JSON.parse(target) as { statement: string; signature: string };
      const seq = (JSON.parse(record.statement) as { seq: number }).seq;
      const edited = JSON.stringify({ ...record, statement: record.statement.replace('"v":1', '"v":1 ') });
      return {
        lines: lines.map((l) => (l === target ? edited : l)),
        expect: { verdict: 'broken', sequence: seq, at: seq },
      };
    }
    case 'strip-statements-and-rewrite': {
      let prev = GENESIS_HASH;
      const out = lines.flatMap((l) => {
        if (isStatementLine(l)) return [];
        if (isEventLine(l)) {
          const e = JSON.parse(l) as { seq: number; canonical: string };
          const canonical = canonicalize({ ...JSON.parse(e.canonical), prev, action: 'rewritten' }) as string;
          prev = sha256Hex(canonical);
          return [eventLine(e.seq, canonical)];
        }
        return isHeadLine(l) ? [JSON.stringify({ type: 'head', seq: n, hash: prev })] : [l];
      });
      return { lines: out, expect: { verdict: 'unsigned' } };
    }
  }
}

describe('tamper evidence in exported files', { timeout }, () => {
  it('catches every edit of an exported file offline, at the right sequence number, and says when no signature covers it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 8 }), fileTamper, async (events, tm) => {
        const slug = `file-tamper-${Date.now().toString(36)}-${runs++}`;
        const tenant = await createTenant(t.gateway.database, slug);
        const stored = await t.gateway.audit.recordEvents(operatorViewer(tenant), events);
        expect(stored.every((r) => r.ok)).toBe(true);
        const lines: string[] = [];
        for await (const line of t.gateway.chain.export(operatorViewer({ id: tenant.id, slug })))
          lines.push(line.trimEnd());
        const tampered = tamperFile(lines, events.length, tm);
        async function* feed() {
          yield* tampered.lines;
        }
        const report = await verifyExportFile(feed(), t.gateway.signer.ring);
        const want = tampered.expect;
        if (want.verdict === 'broken') {
          expect(report.status, `${tm.kind} went unnoticed`).toBe('broken');
          if (want.sequence === 'before-or-at') expect(report.break?.sequence).toBeLessThanOrEqual(want.at);
          else expect(report.break?.sequence, `${tm.kind}: ${report.break?.detail}`).toBe(want.sequence);
        } else {
          expect(report.break, `${tm.kind}: ${report.break?.detail}`).toBeNull();
          expect(report.status).toBe(want.verdict);
          expect(report.eventsChecked).toBe(events.length);
        }
      }),
      { numRuns },
    );
  });
});
