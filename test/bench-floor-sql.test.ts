// The benchmark's floor (bench/floor.ts) restates the gateway's SQL to measure what any server
// must at least do. This runs every benchmark scenario's gateway request once and checks that the
// gateway sends each of the floor's statements character for character, so the two cannot drift.
import { describe, expect, it } from 'vitest';
import { FLOOR_SQL } from '../bench/floor-sql.ts';
import type { RequestSpec } from '../bench/measure.ts';
import { buildScenarios, deepCursor, ingestBatch, UNFILTERED_PAGE } from '../bench/scenarios.ts';
import { startTestGateway } from './support/gateway.ts';

const TOKEN_SECRET = 'floor-sql-test-secret-0123456789abcdef';

describe("the benchmark floor's SQL", () => {
  it('is what the gateway sends for the same scenarios', async () => {
    const t = await startTestGateway({ TOKEN_SECRET });
    try {
      const tenant = await t.newTenant('floor');
      t.queries.length = 0; // from here on, every statement counts (the first append creates the head)
      // Within the last day, so one Mural window (at most 30 days) holds them all.
      const now = Date.now();
      const batch = ingestBatch(20, 7).map(
        (e, i): Record<string, unknown> => ({
          ...e,
          occurredAt: new Date(now - (i + 1) * 60_000).toISOString(),
        }),
      );
      const stored = await t.fetch('/audit/v1/events', {
        method: 'POST',
        key: tenant.key,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch }),
      });
      expect(stored.status).toBe(200);

      const page = await t.gqlRaw(JSON.parse(UNFILTERED_PAGE), tenant.key);
      const connection = page.data?.auditEvents as {
        edges: { node: { id: string; occurredAt: string } }[];
        pageInfo: { endCursor: string };
      };
      const last = connection.edges.at(-1)?.node as { id: string; occurredAt: string };
      const times = batch.map((e) => Date.parse(e.occurredAt as string));
      const since = new Date(Math.min(...times)).toISOString();
      const until = new Date(Math.max(...times) + 1000).toISOString();
      const scenarios = buildScenarios(
        {
          largest: { id: tenant.id, slug: tenant.slug, events: batch.length },
          s1: { action: batch[0]?.action as string, since, until, matches: 1 },
          s2: { depth: 1, at: Date.parse(last.occurredAt), id: last.id },
          s3: { ids: connection.edges.map((e) => e.node.id) },
          s5: {
            since: since.slice(0, 10),
            until: until.slice(0, 10),
            windowEvents: batch.length,
            maxResults: 5,
          },
          // The rare word is an id (hexadecimal), as in the benchmark, which the index reads by its ends.
          q: { rare: '5f0c3a9e2b7d4186', common: batch[0]?.action as string },
          c1: { action: batch[0]?.action as string, since, until, timeZone: 'Europe/Berlin' },
          c2: { since, until },
        },
        {
          largest: tenant.key,
          ingestGateway: tenant.key,
          ingestFloor: tenant.key,
          ingestFloorChain: tenant.key,
        },
        deepCursor(
          TOKEN_SECRET,
          tenant.id,
          connection.pageInfo.endCursor,
          Date.parse(last.occurredAt),
          last.id,
        ),
        batch.slice(0, 3),
      );

      const send = async (r: {
        method: string;
        path: string;
        headers: Record<string, string>;
        body?: string;
      }) => {
        const res = await t.fetch(r.path, { method: r.method, headers: r.headers, body: r.body ?? null });
        expect(res.status, `${r.method} ${r.path}: ${await res.clone().text()}`).toBeLessThan(300);
        const text = await res.text();
        return (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      };
      for (const s of scenarios) {
        if (s.kind === 'load') await send(s.requests.gateway as RequestSpec);
        else if (s.id === 'E1') {
          // An export is one streamed text answer (CSV, NDJSON), not a JSON page with a token.
          const { path, headers } = s.dumps.gateway.first;
          const res = await t.fetch(path, { headers });
          expect(res.status, `${s.name}: ${await res.clone().text()}`).toBe(200);
          expect(s.dumps.gateway.complete?.(await res.text()), s.name).toBe(true);
        } else {
          const first = await send(s.dumps.gateway.first);
          expect(first.nextToken, `${s.name} pages`).toEqual(expect.any(String));
          await send(s.dumps.gateway.next(first.nextToken as string));
        }
      }

      // maxSeq belongs to the floor's plain ingest (no chain), which has no gateway counterpart;
      // the counts' floor is the plain GROUP BY under the gateway's ranking statement.
      const {
        maxSeq: _plainIngestOnly,
        dailyHistogram: _plainHistogram,
        topActors: _plainTopActors,
        insertCatalog,
        ...statements
      } = FLOOR_SQL;
      const sent = new Set(t.queries);
      const missing = Object.entries({ ...statements, insertCatalog: insertCatalog(1) }).filter(
        ([, text]) => !sent.has(text),
      );
      expect(missing.map(([name]) => name)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
