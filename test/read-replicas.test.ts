// Replicas that cannot serve (Postgres only; test/fault/replicas.test.ts runs a real streaming
// replica): one URL that is not a standby (the primary itself) and one where nothing listens.
// Both are reported with their state in /readyz and /metrics, the gateway stays ready, and every
// read is answered by the primary, saying why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { dbKind, startTestGateway, type TestGateway } from './support/gateway.ts';
import { freePort } from './support/ports.ts';

let t: TestGateway;
beforeAll(async () => {
  if (dbKind !== 'postgres') return;
  const dead = `postgres://postgres@127.0.0.1:${await freePort()}/nothing`;
  // The test's own database URL is only known once it exists: point the replica list at the
  // shared server's `postgres` database, which is not in recovery either.
  const notStandby = process.env.TEST_DATABASE_URL as string;
  t = await startTestGateway({
    DATABASE_REPLICA_URLS: `${notStandby},${dead}`,
    DATABASE_REPLICA_POLL_MS: '50',
  });
});
afterAll(() => t?.close());

describe('read replicas', () => {
  it('refuses replicas without a primary URL, and a URL that is not postgres://', () => {
    expect(() => loadConfig({ DATABASE_REPLICA_URLS: 'postgres://r/db' })).toThrow(
      /DATABASE_REPLICA_URLS: needs DATABASE_URL/,
    );
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://p/db', DATABASE_REPLICA_URLS: 'postgres://r/db, mysql://r/db' }),
    ).toThrow(/DATABASE_REPLICA_URLS.1: each must be a postgres:\/\/ URL/);
  });

  it.runIf(dbKind === 'postgres')(
    'reports replicas that cannot serve and reads from the primary',
    async () => {
      const tenant = await t.newTenant('replicas');
      const record = await t.gqlRaw(
        { query: 'mutation { recordEvent(input: { action: "replica.skipped" }) { id } }' },
        tenant.key,
      );
      expect(record.errors).toBeUndefined();

      const ready = await t.fetch('/readyz');
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { replicas: { name: string; state: string; problem?: string }[] };
      expect(body.replicas.map((r) => r.state)).toEqual(['not_standby', 'down']);
      expect(body.replicas[0]?.problem).toMatch(/not in recovery/);
      expect(body.replicas.every((r) => !r.name.includes('@'))).toBe(true);

      const list = await t.gqlRaw(
        {
          query:
            '{ auditEvents(filter: { actions: ["replica.skipped"] }) { totalCount edges { node { id } } } }',
        },
        tenant.key,
      );
      expect(list.errors).toBeUndefined();
      expect((list.data as { auditEvents: { totalCount: number } }).auditEvents.totalCount).toBe(1);

      const metrics = await (await t.fetch('/metrics')).text();
      expect(metrics).toMatch(
        /agw_db_replica_state\{replica="127\.0\.0\.1:\d+\/postgres",state="not_standby"\} 1/,
      );
      expect(metrics).toMatch(/agw_db_replica_state\{replica="127\.0\.0\.1:\d+\/nothing",state="down"\} 1/);
      expect(metrics).toMatch(/agw_db_reads_total\{served_by="primary",reason="none_ready"\} [1-9]/);
    },
  );
});
