// Runs SQL as a superuser on the test's database, the way an attacker with database access
// would: triggers off (session_replication_role = replica), row-level security bypassed.

import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { Db, Tx } from '../../src/db/client.ts';
import type { TestGateway } from './gateway.ts';

export type Superuser = { run<T>(fn: (tx: Tx) => Promise<T>): Promise<T>; close(): Promise<void> };

export function superuser(t: TestGateway): Superuser {
  if (t.kind === 'postgres') {
    const client = postgres(t.adminUrl as string, { max: 1, onnotice: () => {} });
    const db = drizzle({ client }) as unknown as Db;
    return {
      run: (fn) =>
        db.transaction(async (tx) => {
          await tx.execute(sql`set local session_replication_role = replica`);
          return fn(tx);
        }),
      close: () => client.end(),
    };
  }
  return {
    run: (fn) =>
      t.gateway.database.admin(async (tx) => {
        await tx.execute(sql`set local session_replication_role = replica`);
        return fn(tx);
      }),
    close: async () => {},
  };
}

/** Rows of a raw query on either driver. */
export async function rows<T>(tx: Tx, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await tx.execute(query)) as unknown as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}
