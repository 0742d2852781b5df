// The mapper pair between an event row and the domain's AuditEvent: a column that holds a field of
// the same name is copied by both mappers without a line of its own, so this checks that every
// field survives the round trip and that no column is silently left out.
import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../src/audit/model.ts';
import { FLAT_COLUMNS, rowToEvent, toInsertRow } from '../src/audit/repository/event-rows.ts';
import { auditEvents } from '../src/db/schema.ts';

const full: AuditEvent = {
  id: '0190f1a2-0000-7000-8000-000000000001',
  tenantId: 7,
  sequence: 42,
  action: 'user.login',
  name: 'login',
  title: 'User Login',
  description: 'signed in',
  actor: { id: 'u1', email: 'a@example.com', name: 'Ada', type: 'user', company: 'Acme' },
  groupId: 'g1',
  target: { kind: 'doc', id: 'd1', name: 'Doc', email: 'd@example.com', company: 'Acme' },
  additionalId: 'x1',
  feature: { name: 'sso', metas: { provider: 'okta' } },
  ipAddress: '192.0.2.1',
  occurredAt: new Date('2026-01-02T03:04:05.678Z'),
  sentAt: new Date('2026-01-02T03:04:06.000Z'),
  receivedAt: new Date('2026-01-02T03:04:07.000Z'),
  metadata: { invoice: 4711, nested: { ok: true } },
  hash: 'ab'.repeat(32),
};

describe('event rows', () => {
  it('a full event survives toInsertRow then rowToEvent unchanged', () => {
    const row = toInsertRow(full, 'key-1', Buffer.from('00', 'hex'), '{"canonical":true}');
    expect(rowToEvent(row as Parameters<typeof rowToEvent>[0])).toEqual(full);
  });

  it('an event without actor, target or feature comes back with nulls, not empty objects', () => {
    const bare: AuditEvent = { ...full, actor: null, target: null, feature: null };
    const row = toInsertRow(bare, null, null, '{}');
    expect(rowToEvent(row as Parameters<typeof rowToEvent>[0])).toEqual(bare);
  });

  it('every column is copied as is, mapped by hand, or the append path’s bookkeeping', () => {
    const byHand = Object.keys(getTableColumns(auditEvents)).filter(
      (k) => /^(actor|target|feature)[A-Z]/.test(k) || ['seq', 'hash'].includes(k),
    );
    const bookkeeping = ['idempotencyKey', 'requestHash', 'canonical'];
    expect([...FLAT_COLUMNS, ...byHand, ...bookkeeping].sort()).toEqual(
      Object.keys(getTableColumns(auditEvents)).sort(),
    );
    // A flat column is a field of the event under the same name.
    for (const k of FLAT_COLUMNS) expect(Object.keys(full)).toContain(k);
  });
});
