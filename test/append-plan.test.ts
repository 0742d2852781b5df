// The append's decisions, without a database: what is new, what is a retry, what reuses a key.
import { describe, expect, it } from 'vitest';
import { type PriorRequest, planAppend } from '../src/audit/append-plan.ts';
import type { AuditEvent, ChainHead, NewEvent } from '../src/audit/model.ts';

const head: ChainHead = { seq: 7, hash: 'h7', checkpointSeq: 7, checkpointAt: null };
const seal = (e: Omit<AuditEvent, 'hash'>, prev: string) => ({
  canonical: `${prev}>${e.sequence}`,
  hash: `h${e.sequence}`,
});

function newEvent(action: string, key: string | null, request: string | null, kind = 'doc'): NewEvent {
  return {
    id: `id-${action}`,
    tenantId: 1,
    action,
    name: null,
    title: null,
    description: null,
    actor: { id: 'u', email: null, name: null, type: 'USER', company: null },
    groupId: null,
    target: { kind, id: null, name: null, email: null, company: null },
    additionalId: null,
    feature: null,
    ipAddress: null,
    occurredAt: new Date(0),
    sentAt: null,
    receivedAt: new Date(0),
    metadata: {},
    idempotencyKey: key,
    requestHash: request === null ? null : Buffer.from(request),
  };
}

describe('planning an append', () => {
  it('places new events after the head, each sealed on the one before', () => {
    const plan = planAppend([newEvent('a', null, null), newEvent('b', null, null)], head, new Map(), seal);
    expect(plan.inserts.map((i) => [i.event.sequence, i.canonical])).toEqual([
      [8, 'h7>8'],
      [9, 'h8>9'],
    ]);
    expect(plan.head).toMatchObject({ seq: 9, hash: 'h9', checkpointSeq: 7 });
  });

  it('replays a stored request under the same key and body, and refuses the key with another body', () => {
    const stored = { ...newEvent('old', 'k', 'body'), sequence: 3, hash: 'h3' } as AuditEvent;
    const prior = new Map<string, PriorRequest>([['k', { requestHash: Buffer.from('body'), event: stored }]]);
    const plan = planAppend([newEvent('x', 'k', 'body'), newEvent('y', 'k', 'other')], head, prior, seal);
    expect(plan.outcomes).toEqual([
      { kind: 'replayed', event: stored },
      { kind: 'conflict', idempotencyKey: 'k' },
    ]);
    expect(plan.inserts).toEqual([]);
    expect(plan.head).toEqual(head);
  });

  it('treats a key used twice in one batch like a stored one', () => {
    const plan = planAppend([newEvent('x', 'k', 'body'), newEvent('x', 'k', 'body')], head, new Map(), seal);
    expect(plan.outcomes.map((o) => o.kind)).toEqual(['stored', 'replayed']);
    expect(plan.inserts).toHaveLength(1);
  });

  it('names each catalog combination once', () => {
    const plan = planAppend(
      [newEvent('a', null, null), newEvent('a', null, null), newEvent('a', null, null, 'user')],
      head,
      new Map(),
      seal,
    );
    expect(plan.catalog).toEqual([
      { targetKind: 'doc', action: 'a', actorType: 'USER' },
      { targetKind: 'user', action: 'a', actorType: 'USER' },
    ]);
  });
});
