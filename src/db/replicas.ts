// Streaming replicas that serve reads (DATABASE_REPLICA_URLS). A health poller keeps, for each
// replica, its replay position and how far behind the primary it is; a tenant's read goes to a
// ready replica that has replayed the tenant's last write made through this gateway (routing by
// WAL position, see docs/scaling.md), otherwise to the primary. The repositories decide which
// transactions are reads (`src/audit/repository/transaction.ts`).
import postgres from 'postgres';
import { setReplicaHealth } from '../metrics.ts';
import type { Db } from './client.ts';
import { classifyDatabaseError, withTimeout } from './errors.ts';

export type ReplicaState = 'ready' | 'lagging' | 'down' | 'not_standby';

export type ReplicaStatus = {
  /** host:port/database, never credentials. */
  name: string;
  state: ReplicaState;
  /** How old the oldest primary WAL it has not replayed is; null when it could not be asked. */
  lagMs: number | null;
  /** Its replay position (`pg_last_wal_replay_lsn()`), e.g. `0/3000148`. */
  replayLsn: string | null;
  /** Why it is down or not a standby. */
  problem?: string;
};

export type Replica = {
  readonly name: string;
  /** Acts as the serving role, like the primary's handle. */
  readonly db: Db;
  state: ReplicaState;
  replayLsn: bigint | null;
  lagMs: number | null;
  problem: string | undefined;
};

type ReplicaEntry = Replica & { pool: postgres.Sql; probe: postgres.Sql; checking: boolean };

export type ReplicaOptions = {
  urls: readonly string[];
  /** A replica further behind than this is skipped until it catches up. */
  maxLagMs: number;
  /** How often each replica (and the primary's position) is read. */
  pollMs: number;
  poolSize: number;
  /** Startup parameters of a serving session (application_name, role). */
  session: Record<string, string>;
  /** The Drizzle handle over a replica's pool, made the way the primary's is. */
  handle: (pool: postgres.Sql) => Db;
};

/** Where a read may run: a replica (that must have replayed `minLsn`), or the primary and why. */
export type ReadChoice =
  | { replica: Replica; minLsn: bigint }
  | { replica?: undefined; reason: 'none_ready' | 'behind' };

/** `'16/B374D848'` → its byte position. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** A write whose position could not be read (the primary went away after its commit). */
const UNKNOWN_POSITION = 2n ** 63n;

export class ReplicaSet {
  readonly #replicas: ReplicaEntry[];
  readonly #primary: postgres.Sql;
  readonly #options: ReplicaOptions;
  /** tenant → WAL position just after its last commit through this gateway, and when. */
  readonly #lastWrite = new Map<number, { lsn: bigint; at: number }>();
  /** The primary's WAL position at recent polls, oldest first: the clock that lag is measured by. */
  #samples: { at: number; lsn: bigint }[] = [];
  #next = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(primary: postgres.Sql, options: ReplicaOptions) {
    this.#primary = primary;
    this.#options = options;
    this.#replicas = options.urls.map((url) => {
      const common = {
        connect_timeout: 2,
        backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
        idle_timeout: 60,
        onnotice: () => {},
        connection: options.session,
      };
      const pool = postgres(url, { ...common, max: options.poolSize, transform: { undefined: null } });
      return {
        name: replicaName(url),
        db: options.handle(pool),
        pool,
        // Its own connection, so a pool busy with reads cannot make a healthy replica look down.
        probe: postgres(url, { ...common, max: 1 }),
        state: 'down' as ReplicaState,
        replayLsn: null,
        lagMs: null,
        problem: 'not checked yet',
        checking: false,
      };
    });
  }

  /** Checks every replica once, then keeps checking every pollMs until close. */
  async start(): Promise<void> {
    await this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs);
    this.#timer.unref();
  }

  async poll(): Promise<void> {
    const at = Date.now();
    try {
      const [row] = await withTimeout(
        this.#primary<{ lsn: string }[]>`select pg_current_wal_flush_lsn()::text as lsn`,
        Math.max(1000, this.#options.pollMs),
      );
      if (row) this.#samples.push({ at, lsn: parseLsn(row.lsn) });
    } catch {
      // The primary is away: lag cannot grow while nothing is written; the last samples stand.
    }
    const keepMs = this.#options.maxLagMs + 20 * this.#options.pollMs;
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? at) < at - keepMs) this.#samples.shift();
    await Promise.all(this.#replicas.map((r) => this.#check(r)));
    this.#forgetCoveredWrites();
  }

  async #check(r: ReplicaEntry): Promise<void> {
    if (r.checking) return;
    r.checking = true;
    try {
      const [row] = await withTimeout(
        r.probe<{ standby: boolean; replay: string | null }[]>`
          select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay`,
        Math.max(1000, this.#options.pollMs),
      );
      if (!row?.standby || row.replay === null) {
        this.#set(r, 'not_standby', null, 'it is not in recovery (promoted, or not a replica)');
        return;
      }
      const replay = parseLsn(row.replay);
      if (r.replayLsn === null || replay > r.replayLsn) r.replayLsn = replay;
      const lagMs = this.#lagOf(replay);
      this.#set(r, lagMs > this.#options.maxLagMs ? 'lagging' : 'ready', lagMs, undefined);
    } catch (error) {
      this.#set(r, 'down', null, describe(error));
    } finally {
      r.checking = false;
    }
  }

  /** The age of the oldest primary position the replica has not replayed (0 when it has them all). */
  #lagOf(replay: bigint): number {
    const missing = this.#samples.find((s) => s.lsn > replay);
    return missing ? Date.now() - missing.at : 0;
  }

  #set(r: ReplicaEntry, state: ReplicaState, lagMs: number | null, problem: string | undefined): void {
    r.state = state;
    r.lagMs = lagMs;
    r.problem = problem;
    if (state !== 'ready') r.replayLsn = state === 'lagging' ? r.replayLsn : null;
    setReplicaHealth(r.name, state, lagMs);
  }

  /** A write committed for `tenantId`; `lsn` is the primary's position just after the commit. */
  noteWrite(tenantId: number, lsn: string | undefined): void {
    this.#lastWrite.set(tenantId, {
      lsn: lsn === undefined ? UNKNOWN_POSITION : parseLsn(lsn),
      at: Date.now(),
    });
  }

  /**
   * A ready replica for one of the tenant's reads, round robin, preferring those whose last known
   * replay position covers the tenant's last write. One that may be just behind is still chosen
   * (the read checks its position first, at no extra round trip); a lagging or down one never is.
   */
  choose(tenantId: number): ReadChoice {
    const written = this.#lastWrite.get(tenantId);
    const minLsn = written?.lsn ?? 0n;
    const ready = this.#replicas.filter((r) => r.state === 'ready');
    if (ready.length === 0) return { reason: 'none_ready' };
    if (minLsn === UNKNOWN_POSITION) return { reason: 'behind' };
    const covering = ready.filter((r) => (r.replayLsn ?? 0n) >= minLsn);
    const pool = covering.length > 0 ? covering : ready;
    const replica = pool[this.#next++ % pool.length] as ReplicaEntry;
    return { replica, minLsn };
  }

  /** The replica answered a read with its replay position. */
  noteReplay(replica: Replica, lsn: string): void {
    const replay = parseLsn(lsn);
    if (replica.replayLsn === null || replay > replica.replayLsn) replica.replayLsn = replay;
  }

  /** A read failed on the replica: if it went away, no read goes there until a check finds it back. */
  failed(replica: Replica, error: unknown): void {
    const r = replica as ReplicaEntry;
    if (classifyDatabaseError(error) !== error) this.#set(r, 'down', null, describe(error));
  }

  status(): ReplicaStatus[] {
    return this.#replicas.map((r) => ({
      name: r.name,
      state: r.state,
      lagMs: r.lagMs,
      replayLsn: r.replayLsn === null ? null : formatLsn(r.replayLsn),
      ...(r.problem ? { problem: r.problem } : {}),
    }));
  }

  /** A tenant's write stops mattering once every ready replica has replayed it. */
  #forgetCoveredWrites(): void {
    const ready = this.#replicas.filter((r) => r.state === 'ready');
    if (ready.length === 0) return;
    const covered = ready.reduce(
      (m, r) => (r.replayLsn !== null && r.replayLsn < m ? r.replayLsn : m),
      UNKNOWN_POSITION,
    );
    const unknownExpiry = Date.now() - 10 * this.#options.maxLagMs;
    for (const [tenantId, w] of this.#lastWrite) {
      if (w.lsn === UNKNOWN_POSITION ? w.at < unknownExpiry : w.lsn <= covered)
        this.#lastWrite.delete(tenantId);
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all(
      this.#replicas.flatMap((r) => [r.pool.end({ timeout: 5 }), r.probe.end({ timeout: 5 })]),
    );
  }
}

function replicaName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'replica';
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(': ') || String(error);
}

/** The replicas serving a primary handle's reads (registered by openDatabase). */
const replicaSets = new WeakMap<object, ReplicaSet>();

export function attachReplicas(db: object, replicas: ReplicaSet): void {
  replicaSets.set(db, replicas);
}

export function replicasOf(db: object): ReplicaSet | undefined {
  return replicaSets.get(db);
}
