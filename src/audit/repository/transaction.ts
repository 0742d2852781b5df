// The repositories (this folder) are the only modules that build SQL. Every function takes the
// database handle first and the tenant second, and runs inside a transaction that sets the tenant
// for row-level security, so a query can never see another tenant's rows even if its WHERE
// clause forgot to ask. Three kinds: `inTenant` on the primary; `writeInTenant`, on the primary,
// whose commit the tenant's next reads must see; `readInTenant`, on a read replica when one is
// ready and has replayed the tenant's last write (docs/scaling.md), else on the primary.
import { type SQL, sql } from 'drizzle-orm';
import type { PgTransactionConfig } from 'drizzle-orm/pg-core';
import { type Db, type OpeningRows, runTransaction, type Tx } from '../../db/client.ts';
import { classifyDatabaseError } from '../../db/errors.ts';
import { parseLsn, type Replica, replicasOf } from '../../db/replicas.ts';
import { DatabaseUnavailableError, DomainError } from '../../errors.ts';
import { databaseFailed, recordRead, transactionEnded, transactionStarted } from '../../metrics.ts';

/** Binds the rest of a transaction the caller already holds to one tenant (row-level security). */
export async function setTenant(tx: Tx, tenantId: number): Promise<void> {
  await tx.execute(sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`);
}

/**
 * Runs `fn` in a transaction on the primary bound to one tenant: row-level security sees only its
 * rows. Driver errors that mean "database unreachable" come out as DatabaseUnavailableError.
 * BEGIN and the tenant setting travel with `fn`'s first statement (`runTransaction`); with
 * `accessMode: 'read only'` the answer does not wait for the COMMIT either.
 */
export async function inTenant<T>(
  db: Db,
  tenantId: number,
  fn: (tx: Tx) => Promise<T>,
  config?: PgTransactionConfig,
): Promise<T> {
  transactionStarted();
  try {
    return await runTransaction(
      db,
      sql`select set_config('app.tenant_id', ${String(tenantId)}, true)`,
      (tx) => fn(tx),
      config,
    );
  } catch (error) {
    throw databaseFailed(classifyDatabaseError(error));
  } finally {
    transactionEnded();
  }
}

/**
 * `inTenant` for a transaction that writes what the tenant's next reads must show. With read
 * replicas, the primary's WAL position just after the commit is kept for the tenant (one more
 * round trip), so those reads use a replica only once it has replayed that far.
 */
export async function writeInTenant<T>(db: Db, tenantId: number, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const result = await inTenant(db, tenantId, fn);
  const replicas = replicasOf(db);
  if (replicas) {
    // After a synchronous commit the WAL is flushed at least through the commit's record. The
    // flush position, not the insert position (pg_current_wal_lsn), which may be ahead by WAL
    // other sessions wrote and nobody has flushed yet: no replica can replay that before the
    // WAL writer flushes it (wal_writer_delay, 200 ms), and the tenant's reads would stay on the
    // primary that long for no reason.
    const lsn = await db
      .execute(sql`select pg_current_wal_flush_lsn()::text as lsn`)
      .then((rows) => (rows as unknown as { lsn: string }[])[0]?.lsn)
      .catch(() => undefined);
    replicas.noteWrite(tenantId, lsn);
  }
  return result;
}

/** What `readInTenant` opens: nothing to commit, so the answer need not wait for the COMMIT. */
const READ_ONLY: PgTransactionConfig = { accessMode: 'read only' };

/** The replica had not replayed the tenant's last write: the read goes to the primary. */
class ReplicaBehind extends Error {}

/**
 * `inTenant` for a read that may run on a replica. A replica that fails mid-read (down,
 * restarting, a query cancelled by recovery) costs a retry on the primary, never the request.
 * `fn` must only read (the transaction is READ ONLY, so its answer is one round trip), and be
 * safe to run twice.
 */
export async function readInTenant<T>(db: Db, tenantId: number, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const replicas = replicasOf(db);
  if (!replicas) return inTenant(db, tenantId, fn, READ_ONLY);
  const choice = replicas.choose(tenantId);
  let reason: string;
  if (choice.replica) {
    try {
      const result = await onReplica(choice.replica, tenantId, choice.minLsn, fn, (lsn) =>
        replicas.noteReplay(choice.replica, lsn),
      );
      recordRead({ servedBy: 'replica' });
      return result;
    } catch (error) {
      // The read's own answer (not found, invalid): the primary would say the same.
      if (error instanceof DomainError && !(error instanceof DatabaseUnavailableError)) throw error;
      if (error instanceof ReplicaBehind) reason = 'behind';
      else {
        replicas.failed(choice.replica, error);
        reason = 'replica_failed';
      }
    }
  } else {
    reason = choice.reason;
  }
  recordRead({ servedBy: 'primary', reason });
  return inTenant(db, tenantId, fn, READ_ONLY);
}

async function onReplica<T>(
  replica: Replica,
  tenantId: number,
  minLsn: bigint,
  fn: (tx: Tx) => Promise<T>,
  replayed: (lsn: string) => void,
): Promise<T> {
  transactionStarted();
  try {
    return await runTransaction(
      replica.db,
      // The replay position comes with the tenant setting: checking it costs no round trip.
      sql`select set_config('app.tenant_id', ${String(tenantId)}, true), pg_last_wal_replay_lsn()::text as replay`,
      async (tx, opened) => {
        const check = (rows: OpeningRows) => {
          const replay = rows[0]?.replay as string | null | undefined;
          if (!replay) throw new ReplicaBehind();
          replayed(replay);
          if (parseLsn(replay) < minLsn) throw new ReplicaBehind();
        };
        // Already answered: a replica that is behind is left before fn reads anything.
        if (Array.isArray(opened)) {
          check(opened);
          return fn(tx);
        }
        // Pipelined: fn's statements travel with the check, so its answer (or error: a not-found
        // on a replica that is behind means nothing) counts only once the position is known to be
        // far enough.
        const [answer, opening] = await Promise.allSettled([fn(tx), opened]);
        if (opening.status === 'rejected') throw opening.reason;
        check(opening.value);
        if (answer.status === 'rejected') throw answer.reason;
        return answer.value;
      },
      READ_ONLY,
    );
  } finally {
    transactionEnded();
  }
}

/** A text[] parameter, for `= any(...)`. */
export const textArray = (values: string[]): SQL => sql`${sql.param(values)}::text[]`;
