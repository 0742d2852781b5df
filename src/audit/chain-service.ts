// The tenant-facing side of the hash chain: verification from the database, export to a file an
// auditor can check offline with only the public key, and pruning that leaves a signed anchor.
// The chain covers every event of a tenant, so all of it needs `read` on the whole tenant.
import type { Database, Db } from '../db/client.ts';
import { type CanonicalEvent, serializeCanonical, toCanonical } from './chain.ts';
import { ValidationError } from './errors.ts';
import * as repo from './repository.ts';
import type { AuditService } from './service.ts';
import type { ChainSigner, ChainStatement } from './signer.ts';
import {
  type ChainLink,
  chainStart,
  checkStatements,
  type SignedStatementText,
  type VerificationResult,
  verifyLinks,
} from './verify.ts';
import { requireOperator, requireScope, requireWholeTenant, type Viewer } from './viewer.ts';

export const VERIFY_LIMIT = 1_000_000;

export type ChainReport = VerificationResult & {
  /** The newest sequence number the stored head records. */
  headSequence: number;
  /** Newest sequence number vouched for by a valid signed checkpoint. */
  signedThrough: number | null;
};

export type PruneResult = {
  throughSequence: number;
  removed: number;
  anchorHash: string;
  recordedEventId: string;
};

export class ChainService {
  constructor(
    private readonly db: Db,
    private readonly signer: ChainSigner,
    private readonly audit: AuditService,
  ) {}

  /**
   * Verifies the tenant's chain, or the range [fromSeq, toSeq] of it, against the stored head, the
   * stored signed checkpoints and, when given, a checkpoint the caller kept outside the database.
   */
  async verify(
    viewer: Viewer,
    opts: {
      fromSeq?: number | undefined;
      toSeq?: number | undefined;
      checkpoint?: SignedStatementText | undefined;
      limit?: number | undefined;
    } = {},
  ): Promise<ChainReport> {
    const tenantId = chainReader(viewer, 'Verifying the chain');
    const [head, stored] = await Promise.all([
      repo.getChainHead(this.db, tenantId),
      repo.listCheckpoints(this.db, tenantId, { limit: 10_000_000 }),
    ]);
    const headSeq = head?.seq ?? 0;
    const { valid, invalid } = checkStatements(this.signer.publicKey, tenantId, stored);
    if (opts.checkpoint) {
      const external = checkStatements(this.signer.publicKey, tenantId, [opts.checkpoint]);
      if (external.valid.length === 0) {
        throw new ValidationError(
          'checkpoint',
          `is not a checkpoint signed by this gateway for this tenant: ${external.invalid[0]?.reason}`,
        );
      }
      valid.push(...external.valid);
    }
    const anchorsAndCheckpoints = valid;
    let start = chainStart(anchorsAndCheckpoints);
    if (opts.fromSeq !== undefined && opts.fromSeq > start.seq) {
      const prev = await repo.getLinkHash(this.db, tenantId, opts.fromSeq - 1);
      if (prev === null)
        throw new ValidationError(
          'fromSequence',
          `there is no single stored event ${opts.fromSeq - 1} to start from`,
        );
      start = { seq: opts.fromSeq, prev };
    }
    const toSeq = opts.toSeq;
    if (toSeq !== undefined && toSeq < start.seq)
      throw new ValidationError('toSequence', 'must not be before fromSequence');
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const span = (toSeq ?? headSeq) - start.seq + 1;
    if (span > limit) {
      throw new ValidationError(
        'toSequence',
        `the range holds ${span} events; verify at most ${limit} per request (use fromSequence/toSequence, or \`audit-gateway verify\`)`,
      );
    }
    const checkpoints = anchorsAndCheckpoints.filter(
      (c) => c.type === 'checkpoint' && (toSeq === undefined || c.seq <= toSeq),
    );
    const tampered = invalid[0];
    if (tampered) {
      const seq = safeSeq(tampered.statement);
      return {
        intact: false,
        from: null,
        to: null,
        eventsChecked: 0,
        checkpointsChecked: 0,
        break: {
          sequence: seq,
          kind: 'modified',
          detail: `a stored checkpoint does not verify: ${tampered.reason}`,
        },
        headSequence: headSeq,
        signedThrough: null,
      };
    }
    const result = await verifyLinks(this.#links(tenantId, start.seq, toSeq), {
      tenantId,
      start,
      end: toSeq === undefined ? { seq: headSeq, hash: head?.hash, source: 'stored chain head' } : undefined,
      checkpoints,
    });
    const signed = checkpoints.filter((c) => result.intact && c.seq <= (result.to ?? 0)).map((c) => c.seq);
    return { ...result, headSequence: headSeq, signedThrough: signed.length ? Math.max(...signed) : null };
  }

  async *#links(tenantId: number, fromSeq: number, toSeq: number | undefined): AsyncGenerator<ChainLink> {
    for await (const stored of repo.streamChain(this.db, tenantId, { fromSeq, toSeq })) {
      yield {
        seq: stored.seq,
        hash: stored.hash,
        canonical: stored.canonical,
        // What the queryable columns say, serialized the way the hash was computed.
        fromColumns: (claimed: CanonicalEvent) =>
          serializeCanonical(toCanonical({ ...stored.event, sequence: claimed.seq }, claimed.prev)),
      };
    }
  }

  /** The chain as NDJSON lines: a header, every signed statement, every event, and the head. */
  export(viewer: Viewer): AsyncGenerator<string> {
    // Checked before the first line, not when the stream is first read.
    chainReader(viewer, 'Exporting the chain');
    return this.#export({ id: viewer.tenantId, slug: viewer.tenantSlug });
  }

  async *#export(tenant: { id: number; slug: string }): AsyncGenerator<string> {
    const [head, statements] = await Promise.all([
      repo.getChainHead(this.db, tenant.id),
      repo.listCheckpoints(this.db, tenant.id, { limit: 10_000_000 }),
    ]);
    yield json({
      type: 'header',
      format: 'audit-gateway-chain',
      version: 1,
      tenant: tenant.id,
      slug: tenant.slug,
      keyId: this.signer.keyId,
      exportedAt: new Date().toISOString(),
    });
    for (const s of statements)
      yield json({ type: 'statement', statement: s.statement, signature: s.signature });
    const start = chainStart(checkStatements(this.signer.publicKey, tenant.id, statements).valid);
    for await (const link of repo.streamChain(this.db, tenant.id, { fromSeq: start.seq })) {
      yield json({ type: 'event', seq: link.seq, hash: link.hash, canonical: link.canonical });
    }
    yield json({ type: 'head', seq: head?.seq ?? 0, hash: head?.hash ?? null });
  }

  /**
   * Signs the tenant's head now (for an auditor to keep outside the database). A reader may ask:
   * the statement says only what the events already determine, and there is at most one per
   * stored event, so it changes no evidence and cannot be used to flood the table.
   */
  async checkpointNow(viewer: Viewer): Promise<ChainStatement | null> {
    const tenantId = chainReader(viewer, 'A checkpoint');
    await this.audit.checkpointIfDue(tenantId, true);
    const head = await repo.getChainHead(this.db, tenantId);
    if (!head || head.seq === 0) return null;
    const all = await repo.listCheckpoints(this.db, tenantId, { afterSeq: head.seq - 1, limit: 10 });
    const latest = all.find((c) => c.kind === 'checkpoint' && c.seq === head.seq);
    return latest ? (JSON.parse(latest.statement) as ChainStatement) : null;
  }

  /**
   * Removes the tenant's events received before `cutoff` (an unbroken prefix of the chain),
   * leaving a signed anchor so the rest still verifies, and records the prune as an event.
   */
  async prune(viewer: Viewer, database: Database, cutoff: Date): Promise<PruneResult | null> {
    requireOperator(viewer, 'Pruning');
    const tenantId = viewer.tenantId;
    const last = await repo.lastSeqReceivedBefore(this.db, tenantId, cutoff);
    if (!last) return null;
    const anchor = this.signer.sign({
      type: 'anchor',
      tenant: tenantId,
      seq: last.seq,
      hash: last.hash,
      time: new Date().toISOString(),
    });
    const removed = await database.admin((tx) => repo.pruneThrough(tx, tenantId, last.seq, anchor));
    const { event } = await this.audit.recordEvent(viewer, {
      action: 'audit.pruned',
      title: 'Audit events pruned',
      description: `${removed} events received before ${cutoff.toISOString()} were removed; the chain continues from a signed anchor at sequence ${last.seq}.`,
      actor: { id: 'audit-gateway', type: 'SYSTEM' },
      metadata: {
        throughSequence: last.seq,
        removedEvents: removed,
        receivedBefore: cutoff.toISOString(),
        anchorHash: last.hash,
      },
    });
    return { throughSequence: last.seq, removed, anchorHash: last.hash, recordedEventId: event.id };
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

function safeSeq(statement: string): number {
  try {
    const seq = (JSON.parse(statement) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : 0;
  } catch {
    return 0;
  }
}
