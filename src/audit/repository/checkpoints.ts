// Signed statements about the chain: checkpoints of the head, and the anchors prunes leave.
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { chainCheckpoints, chainHeads } from '../../db/schema.ts';
import type { ChainHead, StoredStatement } from '../model.ts';
import type { SignedStatement } from '../signer.ts';
import { lockHead } from './chain-heads.ts';
import { inTenant, textArray, writeInTenant } from './transaction.ts';

export /** Stores a signed statement about the chain and, for a checkpoint, notes it on the head. */
async function saveCheckpoint(
  tx: Tx,
  tenantId: number,
  head: ChainHead,
  signed: SignedStatement | null,
): Promise<ChainHead> {
  if (!signed) return head;
  const s = signed.parsed;
  await tx
    .insert(chainCheckpoints)
    .values({
      tenantId,
      kind: s.type,
      seq: s.seq,
      hash: Buffer.from(s.hash, 'hex'),
      signedAt: new Date(s.time),
      keyId: s.kid,
      statement: signed.statement,
      signature: Buffer.from(signed.signature, 'base64'),
    })
    .onConflictDoNothing();
  if (s.type !== 'checkpoint') return head;
  const signedAt = new Date(s.time);
  await tx
    .update(chainHeads)
    .set({ checkpointSeq: s.seq, checkpointAt: signedAt })
    .where(eq(chainHeads.tenantId, tenantId));
  return { ...head, checkpointSeq: s.seq, checkpointAt: signedAt };
}

/** Signs the head if `decide` says a checkpoint is due (the periodic sweep for idle tenants). */
export async function checkpointHead(
  db: Db,
  tenantId: number,
  decide: (head: ChainHead, now: Date) => SignedStatement | null,
): Promise<ChainHead> {
  return writeInTenant(db, tenantId, async (tx) => {
    const head = await lockHead(tx, tenantId);
    return saveCheckpoint(tx, tenantId, head, decide(head, new Date()));
  });
}

/**
 * Ids of keys, other than `known`, that signed any tenant's stored statements (a few at most).
 * Row-level security shows one tenant at a time, so it asks tenant by tenant; it runs once at start.
 */
export async function foreignSigningKeyIds(db: Db, tenantIds: number[], known: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const tenantId of tenantIds) {
    const rows = await inTenant(db, tenantId, (tx) =>
      tx
        .selectDistinct({ keyId: chainCheckpoints.keyId })
        .from(chainCheckpoints)
        .where(
          and(
            eq(chainCheckpoints.tenantId, tenantId),
            sql`${chainCheckpoints.keyId} <> all(${textArray(known)})`,
          ),
        )
        .limit(5),
    );
    for (const r of rows) found.add(r.keyId);
  }
  return [...found];
}

export async function listCheckpoints(
  db: Db,
  tenantId: number,
  q: { afterSeq?: number | undefined; limit: number },
): Promise<StoredStatement[]> {
  return inTenant(db, tenantId, async (tx) => {
    const rows = await tx
      .select()
      .from(chainCheckpoints)
      .where(
        and(
          eq(chainCheckpoints.tenantId, tenantId),
          q.afterSeq === undefined ? undefined : gt(chainCheckpoints.seq, q.afterSeq),
        ),
      )
      .orderBy(asc(chainCheckpoints.seq), asc(chainCheckpoints.kind))
      .limit(q.limit);
    return rows.map((r) => ({
      kind: r.kind,
      seq: Number(r.seq),
      hash: Buffer.from(r.hash).toString('hex'),
      signedAt: r.signedAt,
      keyId: r.keyId,
      statement: r.statement,
      signature: Buffer.from(r.signature).toString('base64'),
    }));
  });
}
