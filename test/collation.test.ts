// The byte-order collation that src/db/schema.ts marks is the one the database has, column for
// column: a column marked there but not migrated, or migrated but not marked, fails here.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BYTE_ORDER_COLUMNS } from '../src/db/schema.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

describe('collation', () => {
  it('is byte order ("C") exactly on the text columns schema.ts marks', async () => {
    const tables = Object.keys(BYTE_ORDER_COLUMNS).sort();
    expect(tables).toEqual([
      'audit_catalog',
      'audit_counts_day_actor',
      'audit_counts_hour_action',
      'audit_counts_month_actor',
      'audit_events',
      'audit_reads',
    ]);
    const rows = (await t.gateway.database.admin((tx) =>
      tx.execute(
        sql`select table_name, column_name from information_schema.columns
            where table_schema = current_schema() and data_type = 'text' and collation_name = 'C'
              -- A partition of the events (Postgres, drizzle/0008) has its parent's columns.
              and table_name not in (select relname from pg_class where relispartition)
            order by table_name, column_name`,
      ),
    )) as unknown as
      | { table_name: string; column_name: string }[]
      | { rows: { table_name: string; column_name: string }[] };
    const list = Array.isArray(rows) ? rows : rows.rows;
    const inDatabase = list.map((r) => `${r.table_name}.${r.column_name}`);
    const marked = Object.entries(BYTE_ORDER_COLUMNS)
      .flatMap(([table, columns]) => columns.map((c) => `${table}.${c}`))
      .sort();
    expect(inDatabase).toEqual(marked);
  });
});
