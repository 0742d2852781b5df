// Retention (docs/retention.md): each tenant's period (or the gateway's default), the legal hold
// that stops every prune of a tenant, and the job that prunes what is past its period. Every
// change of policy or hold, and every prune, is recorded as an event in the tenant's own chain.
// Only the operator may do any of it (the CLI, and the gateway's own job); no API key can.
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { isLockNotAvailable } from '../db/errors.ts';
import { ConflictError } from '../errors.ts';
import {
  describeRetentionPeriod,
  parseRetentionPeriod,
  type RetentionPeriod,
  retentionCutoff,
} from '../retention-period.ts';
import type { ChainService, DueTenant, PruneResult } from './chain-service.ts';
import { addPartitions } from './repository/partitions.ts';
import {
  changeLegalHold,
  getRetention,
  type LegalHold,
  listRetention,
  setRetentionPeriod,
} from './repository/retention.ts';
import type { AuditService } from './service.ts';
import { operatorViewer, requireOperator, type Viewer } from './viewer.ts';

export type { LegalHold } from './repository/retention.ts';

/** Who changes a policy or hold: the operator's name as given to the CLI (`--by`). */
export type Operator = { id: string; type: 'OPERATOR' };

export type RetentionStatus = {
  tenant: string;
  /** The tenant's own period, or null when it keeps the default. */
  period: RetentionPeriod | null;
  /** What applies: its own period, else the default. */
  effective: RetentionPeriod;
  /** Events received before this are past retention now (null: kept forever). */
  cutoff: Date | null;
  hold: LegalHold | null;
};

export type RetentionRun = {
  /** False when another instance was running the job (nothing was done here). */
  ran: boolean;
  pruned: { tenant: string; result: PruneResult }[];
  /** Tenants past retention that were left alone because they are on legal hold. */
  held: string[];
  failed: { tenant: string; error: string }[];
};

/** How many months ahead the events table's partitions are created. */
export const PARTITIONS_AHEAD_MONTHS = 3;

export const RETENTION_JOB_ACTOR = { id: 'audit-gateway:retention', type: 'SYSTEM' } as const;

export class RetentionService {
  readonly #database: Database;
  readonly #chain: Pick<ChainService, 'prune' | 'pruneWholeMonths'>;
  readonly #recordEvent: AuditService['recordEvent'];
  readonly #defaultPeriod: RetentionPeriod;
  readonly #tenants: () => Promise<readonly { id: number; slug: string }[]>;
  readonly #logger: Logger;

  constructor(options: {
    database: Database;
    chain: Pick<ChainService, 'prune' | 'pruneWholeMonths'>;
    recordEvent: AuditService['recordEvent'];
    /** RETENTION_DEFAULT: the period of every tenant without one of its own. */
    defaultPeriod: RetentionPeriod;
    /** Every tenant; the tenant registry belongs to auth, which the audit layer sits below. */
    tenants: () => Promise<readonly { id: number; slug: string }[]>;
    logger: Logger;
  }) {
    this.#database = options.database;
    this.#chain = options.chain;
    this.#recordEvent = options.recordEvent;
    this.#defaultPeriod = options.defaultPeriod;
    this.#tenants = options.tenants;
    this.#logger = options.logger;
  }

  get defaultPeriod(): RetentionPeriod {
    return this.#defaultPeriod;
  }

  async status(viewer: Viewer, now = new Date()): Promise<RetentionStatus> {
    requireOperator(viewer, 'Retention');
    const settings = await this.#database.admin((tx) => getRetention(tx, viewer.tenantId));
    const effective = settings.period ?? this.#defaultPeriod;
    return {
      tenant: viewer.tenantSlug,
      period: settings.period,
      effective,
      cutoff: retentionCutoff(effective, now),
      hold: settings.hold,
    };
  }

  /**
   * Sets the tenant's period from the operator's text (`30d`, `13mo`, `7y`, `forever`), or with
   * null returns it to the default. ValidationError naming `field` for text that is no period.
   */
  async setPeriod(
    viewer: Viewer,
    text: string | null,
    by: Operator,
    field = 'period',
  ): Promise<RetentionStatus> {
    requireOperator(viewer, 'Setting retention');
    const period = text === null ? null : parseRetentionPeriod(text, field);
    const before = await this.status(viewer);
    await this.#database.admin((tx) => setRetentionPeriod(tx, viewer.tenantId, period));
    const after = await this.status(viewer);
    if (before.period !== after.period) {
      const said = (p: RetentionPeriod | null) =>
        p === null
          ? `the default (${describeRetentionPeriod(this.#defaultPeriod)})`
          : describeRetentionPeriod(p);
      await this.#recordEvent(viewer, {
        action: 'audit.retention.changed',
        title: 'Retention policy changed',
        description: `${by.id} changed how long events are kept from ${said(before.period)} to ${said(after.period)}.`,
        actor: by,
        metadata: { via: 'cli', from: before.period, to: after.period, effective: after.effective },
      });
    }
    return after;
  }

  /** Places the tenant on legal hold; a tenant already on hold is refused (ConflictError). */
  async placeHold(viewer: Viewer, by: Operator, reason: string): Promise<RetentionStatus> {
    requireOperator(viewer, 'A legal hold');
    const since = new Date();
    await this.#database.admin((tx) =>
      changeLegalHold(tx, viewer.tenantId, (current) => {
        if (current)
          throw new ConflictError(
            'tenant',
            `${viewer.tenantSlug} is already on legal hold since ${current.since.toISOString()} (placed by ${current.by}: ${current.reason})`,
          );
        return { since, by: by.id, reason };
      }),
    );
    await this.#recordEvent(viewer, {
      action: 'audit.legal_hold.placed',
      title: 'Legal hold placed',
      description: `${by.id} placed the tenant on legal hold: ${reason}. Nothing of it is pruned until the hold is lifted.`,
      actor: by,
      metadata: { via: 'cli', since: since.toISOString(), reason },
    });
    return this.status(viewer);
  }

  /** Lifts the hold; a tenant not on hold is refused (ConflictError). */
  async liftHold(viewer: Viewer, by: Operator, reason: string | undefined): Promise<RetentionStatus> {
    requireOperator(viewer, 'A legal hold');
    const { before } = await this.#database.admin((tx) =>
      changeLegalHold(tx, viewer.tenantId, (current) => {
        if (!current) throw new ConflictError('tenant', `${viewer.tenantSlug} is not on legal hold`);
        return null;
      }),
    );
    const placed = before as LegalHold;
    await this.#recordEvent(viewer, {
      action: 'audit.legal_hold.lifted',
      title: 'Legal hold lifted',
      description: `${by.id} lifted the legal hold placed ${placed.since.toISOString()} by ${placed.by}${reason ? `: ${reason}` : ''}. Retention applies again.`,
      actor: by,
      metadata: {
        via: 'cli',
        placedAt: placed.since.toISOString(),
        placedBy: placed.by,
        placedReason: placed.reason,
        ...(reason ? { reason } : {}),
      },
    });
    return this.status(viewer);
  }

  /**
   * The job: prunes every tenant's events that are past its period at `now`, one tenant at a
   * time, through the same prune an operator runs. Tenants on hold are skipped (and logged), a
   * failure of one tenant does not stop the others. Runs only when no other instance is running
   * it (`exclusive`).
   */
  async apply(now: Date = new Date()): Promise<RetentionRun> {
    const run: RetentionRun = { ran: false, pruned: [], held: [], failed: [] };
    run.ran = await this.#database.exclusive('retention', async () => {
      await this.ensurePartitions(now);
      const own = new Map(
        (await this.#database.admin((tx) => listRetention(tx))).map((s) => [s.tenantId, s]),
      );
      const due = new Map<number, DueTenant>();
      for (const tenant of await this.#tenants()) {
        const settings = own.get(tenant.id);
        const period = settings?.period ?? this.#defaultPeriod;
        const cutoff = retentionCutoff(period, now);
        if (!cutoff) continue;
        if (settings?.hold) {
          run.held.push(tenant.slug);
          this.#logger.info(
            { tenant: tenant.slug, policy: period },
            'retention: tenant on legal hold, not pruned',
          );
          continue;
        }
        const by = { actor: RETENTION_JOB_ACTOR, via: 'retention-job', policy: period } as const;
        due.set(tenant.id, { viewer: operatorViewer(tenant), cutoff, by });
      }
      // Whole months first (a partition dropped), then each tenant's rest row by row.
      try {
        const { pruned, months } = await this.#chain.pruneWholeMonths(this.#database, due);
        for (const month of months) this.#logger.info(month, 'retention: month dropped');
        for (const { viewer, result } of pruned) {
          this.#pruned(run, viewer.tenantSlug, result, due.get(viewer.tenantId)?.by.policy);
        }
      } catch (error) {
        if (isLockNotAvailable(error)) {
          // Busy (a long export holds the table): the next round drops the month, rather than
          // this one deleting it row by row.
          this.#logger.warn({ err: error }, 'retention: a month could not be dropped now; next round');
          run.failed.push({ tenant: '*', error: (error as Error).message });
          return;
        }
        // A hold placed since the list was read (or any other failure): nothing of the month
        // changed, and the prunes below remove what each tenant is past, row by row.
        this.#logger.warn({ err: error }, 'retention: a month was not dropped; pruning row by row');
      }
      for (const [tenantId, { viewer, cutoff, by }] of due) {
        try {
          const result = await this.#chain.prune(viewer, this.#database, cutoff, by);
          if (result) this.#pruned(run, viewer.tenantSlug, result, by.policy);
        } catch (error) {
          // A hold placed since the list was read is refused by the prune itself.
          if (error instanceof ConflictError) run.held.push(viewer.tenantSlug);
          else {
            run.failed.push({ tenant: viewer.tenantSlug, error: (error as Error).message });
            this.#logger.warn(
              { err: error, tenant: viewer.tenantSlug, tenantId },
              'retention: prune failed; will retry',
            );
          }
        }
      }
    });
    return run;
  }

  /**
   * Creates the events table's monthly partitions from this month through PARTITIONS_AHEAD
   * months ahead, where it is partitioned (a Postgres server; docs/scaling.md#time-partitions).
   * Run at start and by every round of the job, so a month's partition exists long before its
   * first event; an event outside every partition still lands in the default one.
   */
  async ensurePartitions(now: Date = new Date()): Promise<number> {
    const through = new Date(now);
    through.setUTCMonth(through.getUTCMonth() + PARTITIONS_AHEAD_MONTHS);
    const created = await this.#database.admin((tx) => addPartitions(tx, now, through));
    if (created > 0) this.#logger.info({ created }, 'retention: monthly partitions created');
    return created;
  }

  #pruned(run: RetentionRun, tenant: string, result: PruneResult, policy: string | undefined): void {
    run.pruned.push({ tenant, result });
    this.#logger.info(
      { tenant, policy, removed: result.removed, throughSequence: result.throughSequence },
      'retention: pruned',
    );
  }

  /**
   * Runs `apply` every `intervalSeconds` until stopped (a serving gateway's job); `stop` waits for
   * a run under way. `clock` is the job's idea of now (tests move it instead of waiting).
   */
  start(intervalSeconds: number, clock: () => Date = () => new Date()): { stop(): Promise<void> } {
    // A run that outlasts the interval is not joined by the next tick (PGlite's `exclusive` does
    // not exclude runs within one process).
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= this.apply(clock())
        .then(() => undefined)
        .catch((err: unknown) => this.#logger.warn({ err }, 'retention job failed; will retry'))
        .finally(() => {
          running = undefined;
        });
    }, intervalSeconds * 1000);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await running;
      },
    };
  }
}
