import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import canonicalize from 'canonicalize';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeCanonical, toCanonical } from '../src/audit/chain.ts';
import type { AuditEvent } from '../src/audit/model.ts';
import { textProblem } from '../src/audit/model.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { graphql } from './gql/index.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';
import { propertyRuns } from './support/property-runs.ts';
import { rows, type Superuser, superuser } from './support/superuser.ts';

const Verify = graphql(`
  query VerifyChain($from: SafeInt, $to: SafeInt, $checkpoint: SignedCheckpointInput) {
    verifyChain(fromSequence: $from, toSequence: $to, checkpoint: $checkpoint) {
      intact status unknownKeyIds fromSequence toSequence eventsChecked checkpointsChecked headSequence signedThrough
      break { sequence kind detail }
    }
  }
`);

const Checkpoints = graphql(`
  query ListCheckpoints { checkpoints(first: 1000) { kind sequence hash signedAt keyId statement signature problem } }
`);

const RecordForChain = graphql(`
  mutation RecordForChain($input: RecordEventInput!) {
    recordEvent(input: $input) {
      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata
      actor { id email name type company }
      target { kind id name email company }
      feature { name metas }
    }
  }
`);

const EventById = graphql(`
  query ChainEventById($id: ID!) {
    event(id: $id) {
      id sequence hash action name title description groupId additionalId ipAddress occurredAt sentAt receivedAt metadata
      actor { id email name type company }
      target { kind id name email company }
      feature { name metas }
    }
  }
`);

let t: TestGateway;
let su: Superuser;

beforeAll(async () => {
  t = await startTestGateway({ CHECKPOINT_EVERY_EVENTS: '10' });
  su = superuser(t);
});
afterAll(async () => {
  await su?.close();
  await t?.close();
});

async function record(tenant: { id: number; slug: string }, n: number, prefix = 'ev') {
  const results = await t.gateway.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: n }, (_, i) => ({ action: `${prefix}-${i % 4}`, metadata: { i } })),
  );
  return results.map((r) => (r.ok ? r.event : null));
}

describe('signed checkpoints', () => {
  it('are listed through GraphQL and verify with the public key served at the well-known URLs', async () => {
    const tenant = await t.newTenant('checkpoints');
    for (let i = 0; i < 7; i++) await record(tenant, 5);
    const res = await t.gql(Checkpoints, {}, tenant.readKey);
    expect(res.errors).toBeUndefined();
    const list = res.data?.checkpoints ?? [];
    expect(list.length).toBeGreaterThanOrEqual(3);
    const pem = await (await t.fetch('/.well-known/audit-signing-key.pem')).text();
    const jwks = (await (await t.fetch('/.well-known/audit-signing-keys.json')).json()) as {
      keys: Record<string, string>[];
    };
    const publicKey = createPublicKey(pem);
    const fromJwk = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' });
    for (const c of list) {
      expect(c.kind).toBe('CHECKPOINT');
      expect(
        verifySignature(null, Buffer.from(c.statement), publicKey, Buffer.from(c.signature, 'base64')),
      ).toBe(true);
      expect(
        verifySignature(null, Buffer.from(c.statement), fromJwk, Buffer.from(c.signature, 'base64')),
      ).toBe(true);
      const statement = JSON.parse(c.statement);
      expect(statement).toMatchObject({
        type: 'checkpoint',
        tenant: tenant.id,
        seq: c.sequence,
        hash: c.hash,
        kid: c.keyId,
      });
      expect(jwks.keys[0]?.kid).toBe(c.keyId);
    }
    // Signed at most every 10 events, and the newest one is the head at the time.
    const seqs = list.map((c) => c.sequence);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBeGreaterThanOrEqual(30);
  });
});

describe('verifyChain', () => {
  it('reports an intact chain, a range, and a tampered event with its sequence number', async () => {
    const tenant = await t.newTenant('verify');
    await record(tenant, 25);
    const intact = await t.gql(Verify, {}, tenant.readKey);
    expect(intact.data?.verifyChain).toMatchObject({
      intact: true,
      fromSequence: 1,
      toSequence: 25,
      eventsChecked: 25,
      headSequence: 25,
      break: null,
    });
    expect(intact.data?.verifyChain.checkpointsChecked).toBeGreaterThan(0);
    const range = await t.gql(Verify, { from: 5, to: 12 }, tenant.readKey);
    expect(range.data?.verifyChain).toMatchObject({
      intact: true,
      fromSequence: 5,
      toSequence: 12,
      eventsChecked: 8,
    });

    await su.run((tx) =>
      tx.execute(sql`update audit_events set action = 'forged' where tenant_id = ${tenant.id} and seq = 17`),
    );
    const broken = await t.gql(Verify, {}, tenant.readKey);
    expect(broken.data?.verifyChain).toMatchObject({
      intact: false,
      break: { sequence: 17, kind: 'MODIFIED' },
    });
    const before = await t.gql(Verify, { to: 16 }, tenant.readKey);
    expect(before.data?.verifyChain.intact).toBe(true);
    const bad = await t.gql(Verify, { from: 30 }, tenant.readKey);
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('catches truncation and a full rewrite-and-rehash only against a checkpoint kept outside the database', async () => {
    for (const attack of ['truncate', 'rewrite'] as const) {
      const tenant = await t.newTenant(`outside-${attack}`);
      await record(tenant, 20);
      const kept = await t.gateway.chain.checkpointNow(operatorViewer(tenant));
      const keptSigned = (await t.gateway.chain.listCheckpoints(operatorViewer(tenant), 19, 10)).find(
        (c) => c.seq === 20,
      );
      expect(kept?.seq).toBe(20);
      await record(tenant, 10);

      await su.run(async (tx) => {
        if (attack === 'truncate') {
          await tx.execute(sql`delete from audit_events where tenant_id = ${tenant.id} and seq >= 15`);
          await tx.execute(
            sql`update chain_heads set seq = 14, hash = (select hash from audit_events where tenant_id = ${tenant.id} and seq = 14) where tenant_id = ${tenant.id}`,
          );
        } else {
          // Edit event 5, then recompute every later canonical document and hash so each link is valid.
          const links = await rows<{ seq: number; canonical: string; hash: Uint8Array }>(
            tx,
            sql`select seq, canonical, hash from audit_events where tenant_id = ${tenant.id} order by seq`,
          );
          let prev = '';
          for (const link of links) {
            const doc = JSON.parse(link.canonical);
            if (Number(link.seq) < 5) {
              prev = Buffer.from(link.hash).toString('hex');
              continue;
            }
            if (Number(link.seq) === 5) doc.action = 'rewritten';
            doc.prev = prev;
            const canonical = canonicalize(doc) as string;
            const hash = createHash('sha256').update(canonical).digest('hex');
            await tx.execute(sql`
              update audit_events set action = ${doc.action}, canonical = ${canonical}, hash = decode(${hash}, 'hex')
               where tenant_id = ${tenant.id} and seq = ${Number(link.seq)}`);
            prev = hash;
          }
          await tx.execute(
            sql`update chain_heads set hash = decode(${prev}, 'hex') where tenant_id = ${tenant.id}`,
          );
        }
        // The attacker cannot forge signatures, but can remove the stored ones.
        await tx.execute(sql`delete from chain_checkpoints where tenant_id = ${tenant.id}`);
      });

      // From the database alone the doctored chain is self-consistent: this is the documented limit.
      const inside = await t.gql(Verify, {}, tenant.readKey);
      expect(inside.data?.verifyChain.intact, attack).toBe(true);
      // Against the checkpoint kept elsewhere, it is not.
      const outside = await t.gql(
        Verify,
        {
          checkpoint: {
            statement: keptSigned?.statement as string,
            signature: keptSigned?.signature as string,
          },
        },
        tenant.readKey,
      );
      expect(outside.data?.verifyChain.intact, attack).toBe(false);
      expect(outside.data?.verifyChain.break).toMatchObject(
        attack === 'truncate' ? { sequence: 15, kind: 'MISSING' } : { kind: 'MODIFIED' },
      );
      // A checkpoint that was not signed by this gateway is refused, not trusted.
      const forged = await t.gql(
        Verify,
        {
          checkpoint: {
            statement: keptSigned?.statement.replace('"seq":20', '"seq":2') as string,
            signature: keptSigned?.signature as string,
          },
        },
        tenant.readKey,
      );
      expect(forged.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('verifying a range', () => {
  it('must reach the range end, so a deletion at the end is caught, and signedThrough counts only checkpoints inside it', async () => {
    const tenant = await t.newTenant('range-end');
    for (let i = 0; i < 5; i++) await record(tenant, 5);
    // Checkpoints were signed at 5, 15 and 25.
    const inside = await t.gql(Verify, { from: 1, to: 12 }, tenant.readKey);
    expect(inside.data?.verifyChain).toMatchObject({ intact: true, status: 'INTACT', signedThrough: 5 });
    // The checkpoint at 5 is before this range and the one at 15 after it: neither vouches for 6..14.
    const between = await t.gql(Verify, { from: 6, to: 14 }, tenant.readKey);
    expect(between.data?.verifyChain).toMatchObject({
      intact: true,
      status: 'UNSIGNED',
      signedThrough: null,
      eventsChecked: 9,
    });

    await su.run((tx) =>
      tx.execute(sql`delete from audit_events where tenant_id = ${tenant.id} and seq = 18`),
    );
    const deletedAtEnd = await t.gql(Verify, { from: 16, to: 18 }, tenant.readKey);
    expect(deletedAtEnd.data?.verifyChain).toMatchObject({
      intact: false,
      status: 'BROKEN',
      toSequence: 17,
      break: { sequence: 18, kind: 'MISSING' },
    });
    const before = await t.gql(Verify, { from: 16, to: 17 }, tenant.readKey);
    expect(before.data?.verifyChain).toMatchObject({ intact: true, eventsChecked: 2 });
    // A range past the head is checked up to the head, against it.
    const beyond = await t.gql(Verify, { from: 20, to: 1000 }, tenant.readKey);
    expect(beyond.data?.verifyChain).toMatchObject({ intact: true, toSequence: 25, eventsChecked: 6 });
  });
});

describe('the cost of verifying', () => {
  const chainReads = (from: number) =>
    t.queries.slice(from).filter((q) => /^select/i.test(q) && q.includes('"canonical"')).length;

  it('20 concurrent verifications of one tenant read and hash the chain once', async () => {
    const tenant = await t.newTenant('single-flight');
    await record(tenant, 30);
    const mark = t.queries.length;
    const reports = await Promise.all(
      Array.from({ length: 20 }, () => t.gateway.chain.verify(operatorViewer(tenant))),
    );
    expect(reports.every((r) => r.intact && r.eventsChecked === 30)).toBe(true);
    expect(chainReads(mark)).toBe(1);
  });

  it('keeps no result once a verification finishes: a moved head and a later edit are both seen', async () => {
    const tenant = await t.newTenant('no-stale-result');
    await record(tenant, 12);
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).eventsChecked).toBe(12);
    await record(tenant, 3);
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).eventsChecked).toBe(15);
    // A superuser's edit leaves the head as it was: a result remembered for this head would hide it.
    await su.run((tx) =>
      tx.execute(sql`update audit_events set action = 'forged' where tenant_id = ${tenant.id} and seq = 4`),
    );
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).break).toMatchObject({
      sequence: 4,
      kind: 'modified',
    });
  });

  it("runs one tenant's verifications one at a time, so different ranges asked together cannot run side by side", async () => {
    const tenant = await t.newTenant('one-at-a-time');
    await record(tenant, 40);
    const mark = t.queries.length;
    const reports = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.gateway.chain.verify(operatorViewer(tenant), { fromSeq: i + 1 })),
    );
    expect(reports.map((r) => r.eventsChecked)).toEqual([40, 39, 38, 37, 36, 35, 34, 33]);
    // Each verification reads the signed statements, then the chain, before the next one starts.
    const steps = t.queries
      .slice(mark)
      .filter((q) => /^select/i.test(q))
      .flatMap((q) =>
        q.includes('"canonical"') ? ['chain'] : q.includes('"chain_checkpoints"') ? ['statements'] : [],
      );
    expect(steps).toEqual(Array.from({ length: 8 }, () => ['statements', 'chain']).flat());
  });
});

describe('listed checkpoints', () => {
  it('serve what the signed statement says, and flag a row whose columns disagree with it', async () => {
    const tenant = await t.newTenant('served-statements');
    for (let i = 0; i < 3; i++) await record(tenant, 10);
    await su.run((tx) =>
      tx.execute(
        sql`update chain_checkpoints set seq = 11, hash = sha256(hash) where tenant_id = ${tenant.id} and seq = 10`,
      ),
    );
    const res = await t.gql(Checkpoints, {}, tenant.readKey);
    expect(res.errors).toBeUndefined();
    const list = res.data?.checkpoints ?? [];
    expect(list.map((c) => c.sequence)).toEqual([10, 20, 30]);
    const edited = list[0];
    expect(JSON.parse(edited?.statement as string)).toMatchObject({ seq: 10, hash: edited?.hash });
    expect(edited?.problem).toMatch(/stored sequence differs.*stored hash differs/);
    expect(list.slice(1).map((c) => c.problem)).toEqual([null, null]);
  });
});

describe('ingest and the chain', () => {
  it('concurrent single and batch ingest leaves a gap-free chain that verifies', async () => {
    const tenant = await t.newTenant('concurrent');
    const singles = Array.from({ length: 20 }, (_, c) =>
      (async () => {
        for (let i = 0; i < 10; i++) await t.gql(RecordForChain, { input: { action: `c${c}` } }, tenant.key);
      })(),
    );
    const batches = Array.from({ length: 5 }, (_, b) =>
      t.fetch('/audit/v1/events', {
        key: tenant.key,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          events: Array.from({ length: 100 }, (_, i) => ({ action: `b${b}`, metadata: { i } })),
        }),
      }),
    );
    await Promise.all([...singles, ...batches]);
    const report = await t.gateway.chain.verify(operatorViewer(tenant));
    expect(report).toMatchObject({ intact: true, eventsChecked: 700, headSequence: 700, from: 1, to: 700 });
    const seqs = await su.run((tx) =>
      rows<{ seq: string }>(
        tx,
        sql`select seq from audit_events where tenant_id = ${tenant.id} order by seq`,
      ),
    );
    expect(seqs.map((r) => Number(r.seq))).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
  });

  it('a hash recomputed from the stored event equals the one computed at ingest (GraphQL and REST, any Unicode, key order, nesting)', async () => {
    const tenant = await t.newTenant('roundtrip');
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .filter((s) => textProblem(s, false) === null);
    const key = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
      .filter((s) => textProblem(s, false) === null);
    const leaf = fc.oneof(
      text,
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }),
      fc.boolean(),
      fc.constant(null),
    );
    const { value: json } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', maxDepth: 4 },
        leaf,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    }));
    const metadata = fc.dictionary(key, json, { maxKeys: 5 });

    /** What the stored event recomputes to: serialize the served fields, link to the stored predecessor. */
    const recompute = async (id: string): Promise<{ stored: string; recomputed: string }> => {
      const res = await t.gql(EventById, { id }, tenant.readKey);
      const e = res.data?.event;
      if (!e) throw new Error('event not found');
      const prev =
        e.sequence === 1
          ? '0'.repeat(64)
          : ((
              await su.run((tx) =>
                rows<{ hash: Uint8Array }>(
                  tx,
                  sql`select hash from audit_events where tenant_id = ${tenant.id} and seq = ${e.sequence - 1}`,
                ),
              )
            )[0]?.hash as Uint8Array);
      const event = {
        ...e,
        tenantId: tenant.id,
        occurredAt: new Date(e.occurredAt),
        receivedAt: new Date(e.receivedAt),
        sentAt: e.sentAt ? new Date(e.sentAt) : null,
      } as unknown as AuditEvent;
      const doc = toCanonical(event, typeof prev === 'string' ? prev : Buffer.from(prev).toString('hex'));
      if (!doc) throw new Error('the current canonical form is missing');
      const canonical = serializeCanonical(doc);
      return { stored: e.hash, recomputed: createHash('sha256').update(canonical, 'utf8').digest('hex') };
    };

    await fc.assert(
      fc.asyncProperty(
        text,
        text,
        metadata,
        fc.constantFrom('graphql', 'rest-batch', 'replicated'),
        async (title, description, meta, via) => {
          let id: string;
          let ingestHash: string | undefined;
          if (via === 'graphql') {
            const res = await t.gql(
              RecordForChain,
              {
                input: {
                  action: 'roundtrip',
                  title,
                  description,
                  metadata: meta,
                  feature: { name: title, metas: meta },
                },
              },
              tenant.key,
            );
            expect(res.errors).toBeUndefined();
            id = res.data?.recordEvent.id as string;
            ingestHash = res.data?.recordEvent.hash;
          } else if (via === 'rest-batch') {
            const res = await t.fetch('/audit/v1/events', {
              key: tenant.key,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ events: [{ action: 'roundtrip', title, description, metadata: meta }] }),
            });
            const body = (await res.json()) as { results: { id: string; status: string }[] };
            expect(body.results[0]?.status).toBe('stored');
            id = body.results[0]?.id as string;
          } else {
            const res = await t.fetch('/audit/v1/event', {
              key: tenant.key,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ action: 'roundtrip', name: title, title, description }),
            });
            expect(res.status).toBe(201);
            const [row] = await su.run((tx) =>
              rows<{ id: string }>(
                tx,
                sql`select id from audit_events where tenant_id = ${tenant.id} order by seq desc limit 1`,
              ),
            );
            id = row?.id as string;
          }
          const { stored, recomputed } = await recompute(id);
          expect(recomputed).toBe(stored);
          if (ingestHash) expect(recomputed).toBe(ingestHash);
        },
      ),
      { numRuns: propertyRuns(150) },
    );
    expect((await t.gateway.chain.verify(operatorViewer(tenant))).intact).toBe(true);
  });
});

describe('retention', () => {
  it('pruning leaves a signed anchor, the rest still verifies, and the prune is recorded', async () => {
    const tenant = await t.newTenant('prune');
    await record(tenant, 12, 'old');
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await record(tenant, 5, 'new');

    const pruned = await t.gateway.chain.prune(operatorViewer(tenant), t.gateway.database, cutoff);
    expect(pruned).toMatchObject({ throughSequence: 12, removed: 12 });

    const report = await t.gql(Verify, {}, tenant.readKey);
    expect(report.data?.verifyChain).toMatchObject({
      intact: true,
      fromSequence: 13,
      toSequence: 18,
      eventsChecked: 6,
      headSequence: 18,
    });
    const list = (await t.gql(Checkpoints, {}, tenant.readKey)).data?.checkpoints ?? [];
    const anchor = list.find((c) => c.kind === 'ANCHOR');
    expect(anchor).toMatchObject({ sequence: 12, hash: pruned?.anchorHash });

    const recorded = await t.gateway.audit.getEvent(
      operatorViewer(tenant),
      pruned?.recordedEventId as string,
    );
    expect(recorded).toMatchObject({
      action: 'audit.pruned',
      sequence: 18,
      metadata: { throughSequence: 12, removedEvents: 12 },
    });
    const left = await t.gateway.audit.countEvents(operatorViewer(tenant), {});
    expect(left).toBe(6);

    // Removing the anchor is noticed: the chain then starts at 13 with nothing vouching for 1..12.
    await su.run((tx) =>
      tx.execute(sql`delete from chain_checkpoints where tenant_id = ${tenant.id} and kind = 'anchor'`),
    );
    const unanchored = await t.gql(Verify, {}, tenant.readKey);
    expect(unanchored.data?.verifyChain).toMatchObject({
      intact: false,
      break: { sequence: 1, kind: 'MISSING' },
    });
  });
});
