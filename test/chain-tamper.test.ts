// Random histories, one tampering applied directly in SQL as a superuser, and verification must
// fail at the right sequence number; untouched histories must always verify.
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, sealEvent } from '../src/audit/chain.ts';
import { textProblem } from '../src/audit/model.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createTenant } from '../src/auth/admin.ts';
import type { Tx } from '../src/db/client.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { rows, type Superuser, superuser } from './support/superuser.ts';

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
  | { kind: 'truncate'; at: number };

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
  }
}

let runs = 0;

describe('tamper evidence', () => {
  it('detects every tampering at the right sequence number, and never flags an untouched history', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 10 }), tamper, async (events, tm) => {
        const tenant = await createTenant(t.gateway.database, `tamper-${Date.now().toString(36)}-${runs++}`);
        const stored = await t.gateway.audit.recordEvents(operatorViewer(tenant), events);
        expect(stored.every((r) => r.ok)).toBe(true);
        const expected = await su.run((tx) => apply(tx, tenant.id, events.length, tm));
        const report = await t.gateway.chain.verify(operatorViewer(tenant));
        if (expected === null) {
          expect(report.break).toBeNull();
          expect(report.intact).toBe(true);
          expect(report.eventsChecked).toBe(events.length);
        } else {
          expect(report.intact, `${tm.kind} went unnoticed`).toBe(false);
          expect(report.break?.sequence, `${tm.kind}: ${report.break?.detail}`).toBe(expected);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
