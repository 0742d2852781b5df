// The repositories (this folder) are the only modules that build SQL. Every function takes the
// database handle first and the tenant second, and runs inside a transaction that sets the tenant
// for row-level security, so a query can never see another tenant's rows even if its WHERE
// clause forgot to ask.
import { type SQL, sql } from 'drizzle-orm';
import type { PgTransactionConfig } from 'drizzle-orm/pg-core';
import type { Db, Tx } from '../../db/client.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import { databaseFailed, transactionEnded, transactionStarted } from '../../metrics.ts';

/**
 * Runs `fn` in a transaction bound to one tenant: row-level security sees only its rows. Driver
 * errors that mean "database unreachable" come out as DatabaseUnavailableError.
 */
export async function inTenant<T>(
  db: Db,
  tenantId: number,
  fn: (tx: Tx) => Promise<T>,
  config?: PgTransactionConfig,
): Promise<T> {
  transactionStarted();
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
      return fn(tx);
    }, config);
  } catch (error) {
    throw databaseFailed(classifyDatabaseError(error));
  } finally {
    transactionEnded();
  }
}

/** A text[] parameter, for `= any(...)`. */
export const textArray = (values: string[]): SQL => sql`${sql.param(values)}::text[]`;
