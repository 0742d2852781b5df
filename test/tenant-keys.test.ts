// Ready for a database distributed by tenant (Citus; docs/scaling.md): in the migrated catalog,
// every table has a tenant_id column, its primary key and every unique index start with it, so
// each key is enforced on the one shard that holds the tenant. A new table or unique index that
// does not lead with the tenant fails here; a global table must be added to the allow-list below
// with the reason it may be global.
import { type SQL, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../src/db/client.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

/** Global tables: on Citus, reference tables (a copy on every node), small and rarely written. */
const GLOBAL_TABLES: Record<string, string> = {
  // The tenant registry itself: tenants_pkey (id) is the distribution column's domain, and
  // tenants_slug_key (slug) is looked up by the CLI before a tenant id is known.
  tenants: 'the tenant registry',
  // An API key is looked up by its id before the request's tenant is known (the key decides it).
  api_keys: 'looked up by key before the tenant is known',
};

type KeyRow = { table: string; index: string; primary: boolean; first_column: string | null };
type TableRow = { table: string; has_tenant: boolean };

const keysQuery = sql`
  select c.relname as "table", i.relname as "index", x.indisprimary as "primary",
         a.attname as first_column
    from pg_index x
    join pg_class c on c.oid = x.indrelid
    join pg_class i on i.oid = x.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_attribute a on a.attrelid = c.oid and a.attnum = x.indkey[0]
   where n.nspname = 'public' and x.indisunique and not c.relispartition
   order by 1, 2`;

const tablesQuery = sql`
  select c.relname as "table",
         exists (select from pg_attribute a
                  where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
   order by 1`;

/** What stands in the way of distributing by tenant, one line per table or unique index. */
async function problems(run: <T>(q: SQL) => Promise<T[]>): Promise<string[]> {
  const out: string[] = [];
  const tables = await run<TableRow>(tablesQuery);
  const keys = await run<KeyRow>(keysQuery);
  for (const t of tables) {
    if (GLOBAL_TABLES[t.table]) continue;
    if (!t.has_tenant) out.push(`${t.table} has no tenant_id column`);
    if (!keys.some((k) => k.table === t.table && k.primary)) out.push(`${t.table} has no primary key`);
  }
  for (const k of keys) {
    if (GLOBAL_TABLES[k.table] || k.first_column === 'tenant_id') continue;
    const what = k.primary ? 'primary key' : 'unique index';
    out.push(
      `${k.table}: ${what} ${k.index} starts with ${k.first_column ?? 'an expression'}, not tenant_id`,
    );
  }
  return out;
}

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

const rowsOf = async <T>(tx: Tx, q: SQL): Promise<T[]> => {
  const result = (await tx.execute(q)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
};

describe('keys lead with the tenant', () => {
  it('holds for every table and unique index of the migrated schema', async () => {
    expect(await problems((q) => t.gateway.database.rows(q))).toEqual([]);
  });

  it('names a table or unique index that does not', async () => {
    // Inside a transaction that is rolled back, so the schema stays as migrated.
    const found = await t.gateway.database
      .admin(async (tx) => {
        await tx.execute(sql`create table public.keys_probe (id int primary key, tenant_id int, code text)`);
        await tx.execute(sql`create unique index keys_probe_code on public.keys_probe (code, tenant_id)`);
        await tx.execute(sql`create table public.keys_probe_global (name text primary key)`);
        throw new Rollback(await problems((q) => rowsOf(tx, q)));
      })
      .catch((e) => (e instanceof Rollback ? e.found : Promise.reject(e)));
    expect([...found].sort()).toEqual(
      [
        'keys_probe_global has no tenant_id column',
        'keys_probe: primary key keys_probe_pkey starts with id, not tenant_id',
        'keys_probe: unique index keys_probe_code starts with code, not tenant_id',
        'keys_probe_global: primary key keys_probe_global_pkey starts with name, not tenant_id',
      ].sort(),
    );
  });
});

class Rollback extends Error {
  constructor(readonly found: string[]) {
    super('rollback');
  }
}
