// The hash chain's one owner: the checkpoint policy and signing (after appends, by the sweep, on
// request), the stored statements, verification from the database, export to a file an auditor
// can check offline with only the public key, and pruning that leaves a signed anchor. The chain
// covers every event of a tenant, so all of it needs `read` on the whole tenant.
import type { Database, Db } from '../db/client.ts';
import { ConflictError, ValidationError } from '../errors.ts';
import { recordCheckpointSigned } from '../metrics.ts';
import { type CanonicalEvent, serializeCanonical, toCanonical } from './chain.ts';
import type { ChainHead, StoredStatement } from './model.ts';
import type { ReadLog } from './read-log.ts';
import { getChainHead } from './repository/chain-heads.ts';
import {
  getLinkHash,
  lastSeqReceivedBefore,
  lastSeqsReceivedBefore,
  type PrunedRange,
  preferGenericPlans,
  pruneThrough,
  streamChain,
} from './repository/chain-read.ts';
import { checkpointHead, foreignSigningKeyIds, listCheckpoints } from './repository/checkpoints.ts';
import {
  dropPartition,
  lockForDrop,
  type Partition,
  type PartitionShare,
  partitionShares,
  partitionsEndingBy,
  partitionTenants,
} from './repository/partitions.ts';
import { getRetention, type LegalHold } from './repository/retention.ts';
import type { AuditService } from './service.ts';
import { type ChainSigner, type ChainStatement, checkStatement, type SignedStatement } from './signer.ts';
import {
  type ChainLink,
  chainStart,
  checkStatements,
  claimedSequence,
  type SignedStatementText,
  unknownKeyIds,
  type VerificationResult,
  type VerificationStatus,
  verdict,
  verifyLinks,
} from './verify.ts';
import { requireOperator, requireScope, requireWholeTenant, type Viewer } from './viewer.ts';

export const VERIFY_LIMIT = 1_000_000;

export type ChainReport = VerificationResult & {
  status: VerificationStatus;
  /** The newest sequence number the stored head records. */
  headSequence: number;
  /** Ids of keys that signed stored statements but are not in this gateway's key ring. */
  unknownKeyIds: string[];
};

/** A stored statement as served: what the signed text says, and whether the row agrees with it. */
export type ServedStatement = StoredStatement & {
  /** Why the statement does not vouch for what it says; null when it verifies and its row agrees. */
  problem: string | null;
};

export type PruneResult = {
  /** The first and last sequence numbers removed (null first when an earlier prune left none to remove). */
  fromSequence: number | null;
  throughSequence: number;
  removed: number;
  /** When the oldest and newest removed events were received. */
  firstReceivedAt: Date | null;
  lastReceivedAt: Date | null;
  anchorHash: string;
  recordedEventId: string;
};

/** Who prunes, as the recorded `audit.pruned` event names them. */
export type PruneInitiator = {
  /** The event's actor: the operator at the command line, or the gateway's retention job. */
  actor: { id: string; type: string; name?: string };
  /** `cli` (an explicit prune) or `retention-job`. */
  via: 'cli' | 'retention-job';
  /** The retention policy applied (`P13M`), for the job. */
  policy?: string;
};

type VerifyRequest = {
  fromSeq?: number | undefined;
  toSeq?: number | undefined;
  checkpoint?: SignedStatementText | undefined;
  limit?: number | undefined;
};

/** When a head is due a checkpoint: after this many events, or this long after the last one. */
export type CheckpointPolicy = { everyEvents: number; intervalSeconds: number };

/** Whether `head` is due a checkpoint at `now`: it moved since the last one, and enough events or time passed. */
export function checkpointDue(head: ChainHead, now: Date, policy: CheckpointPolicy): boolean {
  if (head.seq <= head.checkpointSeq) return false;
  const byCount = head.seq - head.checkpointSeq >= policy.everyEvents;
  const age = head.checkpointAt ? now.getTime() - head.checkpointAt.getTime() : Number.POSITIVE_INFINITY;
  return byCount || age >= policy.intervalSeconds * 1000;
}

export type ChainServiceOptions = {
  db: Db;
  signer: ChainSigner;
  policy: CheckpointPolicy;
  /** Records the prune as an event, through the service every event goes through. */
  recordEvent: AuditService['recordEvent'];
  /** Where verifications and exports leave their record (who read the trail). */
  readLog: Pick<ReadLog, 'record'>;
};

export class ChainService {
  /**
   * Verifications under way, by tenant and request (and the head they started from). A caller
   * asking for the same verification while one runs shares its result instead of re-hashing the
   * chain; nothing is kept once it finishes, because a superuser's edit does not move the head,
   * so a result remembered for an unchanged head could hide tampering that happened after it.
   */
  readonly #running = new Map<string, Promise<ChainReport>>();
  /** The tail of each tenant's queue: one verification per tenant reads the chain at a time. */
  readonly #tenantQueue = new Map<number, Promise<unknown>>();

  private readonly db: Db;
  private readonly signer: ChainSigner;
  readonly #policy: CheckpointPolicy;
  readonly #recordEvent: AuditService['recordEvent'];
  readonly #readLog: Pick<ReadLog, 'record'>;

  constructor(options: ChainServiceOptions) {
    this.db = options.db;
    this.signer = options.signer;
    this.#policy = options.policy;
    this.#recordEvent = options.recordEvent;
    this.#readLog = options.readLog;
  }

  /** Signs the head if it moved and the interval passed (or at once when `force`); the sweep calls this per tenant. */
  async checkpointIfDue(tenantId: number, force = false): Promise<ChainHead> {
    return checkpointHead(this.db, tenantId, (head, now) => this.#sign(tenantId, head, now, force));
  }

  /**
   * The checkpoint an append's new head gets when one is due (or at once, `force`: an event of
   * the batch asked for it), signed inside the append's transaction.
   */
  checkpointIfDueAfterAppend(
    tenantId: number,
    head: ChainHead,
    now: Date,
    force = false,
  ): SignedStatement | null {
    return this.#sign(tenantId, head, now, force);
  }

  /** The tenant's signed statements; they speak for the whole chain, so not for a restricted viewer. */
  async listCheckpoints(
    viewer: Viewer,
    afterSeq: number | undefined,
    limit: number,
  ): Promise<StoredStatement[]> {
    const tenantId = chainReader(viewer, 'The chain');
    const statements = await listCheckpoints(this.db, tenantId, { afterSeq, limit });
    this.#readLog.record(viewer, 'checkpoints', { afterSequence: afterSeq, limit }, 0);
    return statements;
  }

  #sign(tenantId: number, head: ChainHead, now: Date, force: boolean): SignedStatement | null {
    if (head.seq <= head.checkpointSeq) return null;
    if (!force && !checkpointDue(head, now, this.#policy)) return null;
    recordCheckpointSigned();
    return this.signer.sign({
      type: 'checkpoint',
      tenant: tenantId,
      seq: head.seq,
      hash: head.hash,
      time: now.toISOString(),
    });
  }

  /**
   * Verifies the tenant's chain, or the range [fromSeq, toSeq] of it, against the stored head, the
   * stored signed checkpoints and, when given, a checkpoint the caller kept outside the database.
   * A caller cannot multiply the cost: identical requests while one runs share it, and a tenant's
   * verifications run one after another, never side by side.
   */
  async verify(viewer: Viewer, opts: VerifyRequest = {}): Promise<ChainReport> {
    const tenantId = chainReader(viewer, 'Verifying the chain');
    const report = await this.#sharedVerification(tenantId, opts);
    const { fromSeq, toSeq, limit } = opts;
    this.#readLog.record(
      viewer,
      'verify',
      { fromSeq, toSeq, limit, checkpoint: opts.checkpoint !== undefined },
      report.eventsChecked,
    );
    return report;
  }

  #sharedVerification(tenantId: number, opts: VerifyRequest): Promise<ChainReport> {
    // Looked up before any await, so callers that ask at the same moment always share one run. A
    // caller that joins a run already under way gets the chain as that run read it (its report
    // says how far); once a run ends nothing of it is kept, so the next request reads afresh.
    const key = JSON.stringify([
      tenantId,
      opts.fromSeq ?? null,
      opts.toSeq ?? null,
      opts.checkpoint?.statement ?? null,
      opts.checkpoint?.signature ?? null,
      opts.limit ?? null,
    ]);
    const running = this.#running.get(key);
    if (running) return running;
    const queued = this.#tenantQueue.get(tenantId) ?? Promise.resolve();
    const run = queued.then(
      () => this.#verifyNow(tenantId, opts),
      () => this.#verifyNow(tenantId, opts),
    );
    const settled = run.catch(() => undefined);
    this.#tenantQueue.set(tenantId, settled);
    this.#running.set(key, run);
    void settled.then(() => {
      if (this.#running.get(key) === run) this.#running.delete(key);
      if (this.#tenantQueue.get(tenantId) === settled) this.#tenantQueue.delete(tenantId);
    });
    return run;
  }

  async #verifyNow(tenantId: number, opts: VerifyRequest): Promise<ChainReport> {
    const [head, stored] = await Promise.all([
      getChainHead(this.db, tenantId),
      listCheckpoints(this.db, tenantId, { limit: 10_000_000 }),
    ]);
    const headSeq = head?.seq ?? 0;
    const ring = this.signer.ring;
    const sorted = checkStatements(ring, tenantId, stored);
    if (opts.checkpoint) {
      const external = checkStatements(ring, tenantId, [opts.checkpoint]);
      if (external.valid.length === 0) {
        const reason =
          external.invalid[0]?.reason ?? `signed by an unknown key ${external.unknown[0]?.keyId}`;
        throw new ValidationError(
          'checkpoint',
          `is not a checkpoint signed by this gateway for this tenant: ${reason}`,
        );
      }
      sorted.valid.push(...external.valid);
    }
    const unknown = unknownKeyIds(sorted);
    // An anchor whose key is not in the ring still says where the chain starts; the verdict
    // then says that its signature could not be checked.
    let start = chainStart([...sorted.valid, ...sorted.unknown.map((u) => u.claimed)]);
    if (opts.fromSeq !== undefined && opts.fromSeq > start.seq) {
      const prev = await getLinkHash(this.db, tenantId, opts.fromSeq - 1);
      if (prev === null)
        throw new ValidationError(
          'fromSequence',
          `there is no single stored event ${opts.fromSeq - 1} to start from`,
        );
      start = { seq: opts.fromSeq, prev };
    }
    // A range that reaches the head is checked against the head; one that stops short must
    // still reach its own end, or a deletion at the range's end would go unnoticed.
    const toSeq = opts.toSeq !== undefined && opts.toSeq < headSeq ? opts.toSeq : undefined;
    if (opts.toSeq !== undefined && opts.toSeq < start.seq)
      throw new ValidationError('toSequence', 'must not be before fromSequence');
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const span = (toSeq ?? headSeq) - start.seq + 1;
    if (span > limit) {
      throw new ValidationError(
        'toSequence',
        `the range holds ${span} events; verify at most ${limit} per request (use fromSequence/toSequence, or \`audit-gateway verify\`)`,
      );
    }
    const checkpoints = sorted.valid.filter(
      (c) => c.type === 'checkpoint' && (toSeq === undefined || c.seq <= toSeq),
    );
    const tampered = sorted.invalid[0];
    if (tampered) {
      return {
        intact: false,
        status: 'broken',
        from: null,
        to: null,
        eventsChecked: 0,
        checkpointsChecked: 0,
        signedThrough: null,
        break: {
          sequence: claimedSequence(tampered.statement),
          kind: 'modified',
          detail: `a stored checkpoint does not verify: ${tampered.reason}`,
        },
        headSequence: headSeq,
        unknownKeyIds: unknown,
      };
    }
    const result = await verifyLinks(this.#links(tenantId, start.seq, toSeq), {
      tenantId,
      start,
      end:
        toSeq === undefined
          ? { seq: headSeq, hash: head?.hash, source: 'stored chain head' }
          : { seq: toSeq, source: 'requested range' },
      checkpoints,
    });
    const status = verdict(result, unknown);
    return {
      ...result,
      intact: status === 'intact' || status === 'unsigned',
      status,
      headSequence: headSeq,
      unknownKeyIds: unknown,
    };
  }

  /**
   * Stored statements as the signed text says them: sequence, hash, kind, time and key come from
   * the signed statement, not from the columns beside it, and a row whose columns disagree, whose
   * signature fails or whose key is unknown is flagged.
   */
  describeStatements(tenantId: number, stored: StoredStatement[]): ServedStatement[] {
    return stored.map((row) => {
      const check = checkStatement(this.signer.ring, row.statement, row.signature);
      const said = check.ok ? check.statement : check.claimed;
      if (!said) return { ...row, problem: check.ok ? null : check.reason };
      const disagree = (
        [
          ['kind', row.kind, said.type],
          ['sequence', row.seq, said.seq],
          ['hash', row.hash, said.hash],
          ['key id', row.keyId, said.kid],
          ['signing time', row.signedAt.getTime(), new Date(said.time).getTime()],
        ] as const
      ).filter(([, stored, signed]) => stored !== signed);
      const problems = [
        ...(check.ok ? [] : [check.reason]),
        ...(said.tenant === tenantId ? [] : [`the statement is about tenant ${said.tenant}`]),
        ...disagree.map(([what]) => `the stored ${what} differs from the signed statement`),
      ];
      return {
        kind: said.type,
        seq: said.seq,
        hash: said.hash,
        signedAt: new Date(said.time),
        keyId: said.kid,
        statement: row.statement,
        signature: row.signature,
        problem: problems.length ? problems.join('; ') : null,
      };
    });
  }

  async *#links(tenantId: number, fromSeq: number, toSeq: number | undefined): AsyncGenerator<ChainLink> {
    for await (const stored of streamChain(this.db, tenantId, { fromSeq, toSeq })) {
      yield {
        seq: stored.seq,
        hash: stored.hash,
        canonical: stored.canonical,
        // What the queryable columns say, serialized the way the hash was computed: in the
        // version the stored document names (null for a version this gateway does not know).
        fromColumns: (claimed: CanonicalEvent) => {
          const doc = toCanonical({ ...stored.event, sequence: claimed.seq }, claimed.prev, claimed.v);
          return doc ? serializeCanonical(doc) : null;
        },
      };
    }
  }

  /**
   * The chain as NDJSON lines: a header (with the public keys its statements name), every signed
   * statement, every event, and the head. The head is signed first, so the file is covered by a
   * signature through its last event; the events are read up to that head, so later appends do
   * not run past it.
   */
  export(viewer: Viewer): AsyncGenerator<string> {
    // Checked before the first line, not when the stream is first read.
    chainReader(viewer, 'Exporting the chain');
    return this.#export(viewer);
  }

  /** One record per export, when it ends (or is abandoned), with the events it wrote. */
  async *#export(viewer: Viewer): AsyncGenerator<string> {
    const exported = { events: 0 };
    try {
      yield* this.#exportLines({ id: viewer.tenantId, slug: viewer.tenantSlug }, exported);
    } finally {
      this.#readLog.record(viewer, 'chain_export', {}, exported.events);
    }
  }

  async *#exportLines(
    tenant: { id: number; slug: string },
    exported: { events: number },
  ): AsyncGenerator<string> {
    const head = await this.checkpointIfDue(tenant.id, true);
    const statements = await listCheckpoints(this.db, tenant.id, { limit: 10_000_000 });
    const ring = this.signer.ring;
    const keyIds = [...new Set(statements.map((s) => s.keyId))];
    yield json({
      type: 'header',
      format: 'audit-gateway-chain',
      version: 1,
      tenant: tenant.id,
      slug: tenant.slug,
      keyId: this.signer.keyId,
      keys: keyIds.flatMap((kid) => {
        const key = ring.get(kid);
        return key ? [{ kid, pem: key.export({ format: 'pem', type: 'spki' }).toString() }] : [];
      }),
      exportedAt: new Date().toISOString(),
    });
    for (const s of statements)
      yield json({ type: 'statement', statement: s.statement, signature: s.signature });
    const sorted = checkStatements(ring, tenant.id, statements);
    const start = chainStart([...sorted.valid, ...sorted.unknown.map((u) => u.claimed)]);
    for await (const link of streamChain(this.db, tenant.id, { fromSeq: start.seq, toSeq: head.seq })) {
      exported.events++;
      yield json({ type: 'event', seq: link.seq, hash: link.hash, canonical: link.canonical });
    }
    yield json({ type: 'head', seq: head.seq, hash: head.seq === 0 ? null : head.hash });
  }

  /**
   * Signs the tenant's head now (for an auditor to keep outside the database). A reader may ask:
   * the statement says only what the events already determine, and there is at most one per
   * stored event, so it changes no evidence and cannot be used to flood the table.
   */
  async checkpointNow(viewer: Viewer): Promise<ChainStatement | null> {
    const tenantId = chainReader(viewer, 'A checkpoint');
    await this.checkpointIfDue(tenantId, true);
    const head = await getChainHead(this.db, tenantId);
    if (!head || head.seq === 0) return null;
    const all = await listCheckpoints(this.db, tenantId, { afterSeq: head.seq - 1, limit: 10 });
    const latest = all.find((c) => c.kind === 'checkpoint' && c.seq === head.seq);
    return latest ? (JSON.parse(latest.statement) as ChainStatement) : null;
  }

  /** Ids of keys outside this gateway's key ring that signed statements of these tenants. */
  foreignSigningKeyIds(tenantIds: number[]): Promise<string[]> {
    return foreignSigningKeyIds(this.db, tenantIds, this.signer.ring.ids());
  }

  /**
   * Removes the tenant's events received before `cutoff` (an unbroken prefix of the chain),
   * leaving a signed anchor so the rest still verifies, and records the prune as an event naming
   * who asked and the range removed, and signs a checkpoint of the head that event made. A tenant
   * on legal hold is refused (ConflictError), whether or not anything is old enough.
   */
  async prune(
    viewer: Viewer,
    database: Database,
    cutoff: Date,
    by: PruneInitiator = { actor: { id: 'operator', type: 'OPERATOR' }, via: 'cli' },
  ): Promise<PruneResult | null> {
    requireOperator(viewer, 'Pruning');
    const tenantId = viewer.tenantId;
    const { hold } = await database.admin((tx) => getRetention(tx, tenantId));
    if (hold) throw onHold(viewer, hold);
    const last = await lastSeqReceivedBefore(this.db, tenantId, cutoff);
    if (!last) return null;
    const anchor = this.#anchor(tenantId, last);
    // The hold is checked again under the tenant's row lock, in the transaction that deletes.
    const pruned = await database.admin((tx) => pruneThrough(tx, tenantId, last.seq, anchor));
    if ('onHold' in pruned) throw onHold(viewer, pruned.onHold);
    return this.#recordPrune(viewer, cutoff, by, last, pruned);
  }

  /**
   * `pruneMonth` for every month that ends by the latest of the tenants' cutoffs, oldest first:
   * what a retention round or an explicit prune of many tenants does before pruning each tenant
   * row by row (which then removes only what lies outside the dropped months).
   */
  async pruneWholeMonths(
    database: Database,
    tenants: ReadonlyMap<number, DueTenant>,
    lockTimeoutMs?: number,
  ): Promise<{ pruned: { viewer: Viewer; result: PruneResult }[]; months: DroppedMonth[] }> {
    const cutoffs = [...tenants.values()].map((t) => t.cutoff.getTime());
    const done = { pruned: [] as { viewer: Viewer; result: PruneResult }[], months: [] as DroppedMonth[] };
    if (cutoffs.length === 0) return done;
    const months = await database.admin((tx) => partitionsEndingBy(tx, new Date(Math.max(...cutoffs))));
    for (const month of months) {
      const started = performance.now();
      const outcome = await this.pruneMonth(database, month, tenants, lockTimeoutMs);
      if (!('pruned' in outcome)) continue;
      done.pruned.push(...outcome.pruned);
      done.months.push({
        partition: month.name,
        tenants: outcome.pruned.length,
        events: outcome.pruned.reduce((n, p) => n + p.result.removed, 0),
        ms: Math.round(performance.now() - started),
        lockedMs: outcome.lockedMs,
      });
    }
    return done;
  }

  /**
   * Prunes a whole month at once by dropping its partition (docs/retention.md#how-events-are-removed),
   * when every tenant with events in it is among `tenants` with a cutoff at or after the month's
   * end, is not on hold, and would have all of its events in the month removed by a prune at its
   * cutoff (its unbroken prefix reaches past them). Each tenant's prune is what `prune` does,
   * anchor and recorded event included; its rows in other partitions received before its cutoff
   * go row by row in the same transaction. Returns each tenant's prune, or why the month stays.
   *
   * The drop takes the events table's exclusive lock for the moment it runs (waiting at most
   * `lockTimeoutMs` for it): everything slow (reading the month's shares, signing) happens
   * before, and what was read is checked again under the lock.
   */
  async pruneMonth(
    database: Database,
    month: Partition,
    tenants: ReadonlyMap<number, DueTenant>,
    lockTimeoutMs = 1000,
  ): Promise<{ pruned: { viewer: Viewer; result: PruneResult }[]; lockedMs: number } | { kept: string }> {
    // Who is in the month, cheaply, before reading all of it.
    for (const tenantId of (await database.admin((tx) => partitionTenants(tx, month))).keys()) {
      const tenant = tenants.get(tenantId);
      if (!tenant) return { kept: `tenant ${tenantId} is not being pruned` };
      if (tenant.cutoff.getTime() < month.to.getTime())
        return {
          kept: `${tenant.viewer.tenantSlug} keeps events received from ${tenant.cutoff.toISOString()}`,
        };
    }
    const shares = await database.admin((tx) => partitionShares(tx, month));
    const planned: { share: PartitionShare; tenant: DueTenant }[] = [];
    for (const share of shares) {
      const tenant = tenants.get(share.tenantId);
      if (!tenant || tenant.cutoff.getTime() < month.to.getTime())
        return { kept: 'events were added to the month while the drop was planned' };
      requireOperator(tenant.viewer, 'Pruning');
      planned.push({ share, tenant });
    }
    // Each tenant's prefix, read one after another in one transaction (one plan per statement).
    const lasts = await database.admin((tx) =>
      lastSeqsReceivedBefore(
        tx,
        planned.map(({ share, tenant }) => ({ tenantId: share.tenantId, cutoff: tenant.cutoff })),
      ),
    );
    const plan: {
      share: PartitionShare;
      tenant: DueTenant;
      last: { seq: number; hash: string };
      anchor: SignedStatement;
    }[] = [];
    for (const [i, { share, tenant }] of planned.entries()) {
      const last = lasts[i];
      if (!last || last.seq < share.throughSeq)
        return { kept: `${tenant.viewer.tenantSlug}'s events before its cutoff stop short of the month's` };
      plan.push({ share, tenant, last, anchor: this.#anchor(share.tenantId, last) });
    }
    const done = await database
      .admin(async (tx) => {
        // Each tenant's prune first (anchor, rows outside the month, rollups without the month),
        // then the table's exclusive lock only for the check and the drop.
        await preferGenericPlans(tx);
        const pruned = [];
        for (const p of plan) {
          const range = await pruneThrough(tx, p.share.tenantId, p.last.seq, p.anchor, {
            partition: month,
            share: p.share,
          });
          // Rolls the whole transaction back: no tenant's anchor without the drop, no drop without all.
          if ('onHold' in range) throw onHold(p.tenant.viewer, range.onHold);
          pruned.push({ p, range });
        }
        const locked = performance.now();
        const now = await lockForDrop(tx, month, lockTimeoutMs);
        const unchanged =
          now.size === plan.length && plan.every((p) => now.get(p.share.tenantId) === p.share.throughSeq);
        if (!unchanged) throw new MonthChanged();
        await dropPartition(tx, month);
        return { pruned, kept: null, locked };
      })
      .catch((error: unknown) => {
        if (error instanceof MonthChanged) return { kept: error.message } as const;
        throw error;
      });
    if (done.kept !== null) return { kept: done.kept };
    // From asking for the lock to the commit's answer: what other sessions may have waited.
    const lockedMs = Math.round(performance.now() - done.locked);
    // Each tenant's record of its prune, side by side: separate chains, separate appends.
    const results = await Promise.all(
      done.pruned.map(async ({ p, range }) => {
        const { viewer, cutoff, by } = p.tenant;
        return { viewer, result: await this.#recordPrune(viewer, cutoff, by, p.last, range) };
      }),
    );
    return { pruned: results, lockedMs };
  }

  #anchor(tenantId: number, last: { seq: number; hash: string }): SignedStatement {
    return this.signer.sign({
      type: 'anchor',
      tenant: tenantId,
      seq: last.seq,
      hash: last.hash,
      time: new Date().toISOString(),
    });
  }

  /** Records a prune as an event in the tenant's chain, and signs the head that event made. */
  async #recordPrune(
    viewer: Viewer,
    cutoff: Date,
    by: PruneInitiator,
    last: { seq: number; hash: string },
    pruned: PrunedRange,
  ): Promise<PruneResult> {
    const range = pruned.fromSeq === null ? 'no events' : `events ${pruned.fromSeq} to ${pruned.throughSeq}`;
    const { event } = await this.#recordEvent(
      viewer,
      {
        action: 'audit.pruned',
        title: 'Audit events pruned',
        description: `${pruned.removed} events received before ${cutoff.toISOString()} (${range}) were removed by ${by.actor.id}${by.policy ? ` under the retention policy (${by.policy})` : ''}; the chain continues from a signed anchor at sequence ${last.seq}.`,
        actor: by.actor,
        metadata: {
          via: by.via,
          ...(by.policy ? { policy: by.policy } : {}),
          receivedBefore: cutoff.toISOString(),
          fromSequence: pruned.fromSeq,
          throughSequence: last.seq,
          removedEvents: pruned.removed,
          firstReceivedAt: pruned.firstReceivedAt?.toISOString() ?? null,
          lastReceivedAt: pruned.lastReceivedAt?.toISOString() ?? null,
          anchorHash: last.hash,
        },
      },
      'input',
      // Signed in the append's own transaction, not at the next due checkpoint: the record of a
      // removal is the event an auditor most needs vouched for, and it costs one signature.
      { signNow: true },
    );
    return {
      fromSequence: pruned.fromSeq,
      throughSequence: last.seq,
      removed: pruned.removed,
      firstReceivedAt: pruned.firstReceivedAt,
      lastReceivedAt: pruned.lastReceivedAt,
      anchorHash: last.hash,
      recordedEventId: event.id,
    };
  }
}

/** The tenant whose chain the viewer may read: `read`, and no restriction to a slice of it. */
function chainReader(viewer: Viewer, what: string): number {
  requireScope(viewer, 'read');
  requireWholeTenant(viewer, what);
  return viewer.tenantId;
}

function json(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** A tenant a prune of whole months may remove events of: who asks, and its cutoff. */
export type DueTenant = { viewer: Viewer; cutoff: Date; by: PruneInitiator };

/** A month dropped whole: its partition, what it held, how long the drop took and held the lock. */
export type DroppedMonth = {
  partition: string;
  tenants: number;
  events: number;
  ms: number;
  lockedMs: number;
};

/** Events were added to a month while its drop was planned: it stays, and nothing changed. */
class MonthChanged extends Error {
  constructor() {
    super('events were added to the month while the drop was planned');
  }
}

/** The refusal of a prune of a tenant on legal hold. */
function onHold(viewer: Viewer, hold: LegalHold): ConflictError {
  return new ConflictError(
    'tenant',
    `${viewer.tenantSlug} is on legal hold since ${hold.since.toISOString()} (placed by ${hold.by}: ${hold.reason}); nothing of it is pruned until the hold is lifted`,
  );
}
