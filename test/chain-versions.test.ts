// The canonical form is versioned: when a release adds a field to it (a new version), events
// hashed in the old version still verify, because each is re-checked in the version it names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANONICAL_FORMS, type CanonicalForm, currentCanonicalVersion } from '../src/audit/chain.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(() => t.close());

describe('versions of the canonical form', () => {
  it('keeps a v1 event verifying after a v2 field lands', async () => {
    const tenant = await t.newTenant('versions');
    const operator = operatorViewer(tenant);
    await t.gateway.audit.recordEvent(operator, {
      action: 'user.login',
      actor: { id: 'u1' },
      metadata: { ua: 'curl' },
    });

    // A release adds a field to the hashed document (here taken from metadata, standing in for
    // a new column): a version 2 whose builder names it.
    const v1 = CANONICAL_FORMS.get(1) as CanonicalForm;
    const v2: CanonicalForm = (event, prev) => ({
      ...v1(event, prev),
      v: 2,
      userAgent: event.metadata.ua ?? null,
    });
    CANONICAL_FORMS.set(2, v2);
    try {
      expect(currentCanonicalVersion()).toBe(2);
      await t.gateway.audit.recordEvent(operator, {
        action: 'user.login',
        actor: { id: 'u2' },
        metadata: { ua: 'firefox' },
      });

      const lines = [];
      for await (const line of t.gateway.chain.export(operator)) lines.push(JSON.parse(line));
      const versions = lines.filter((l) => l.type === 'event').map((l) => JSON.parse(l.canonical).v);
      expect(versions).toEqual([1, 2]);

      const report = await t.gateway.chain.verify(operator);
      expect(report).toMatchObject({ status: 'intact', intact: true, break: null, eventsChecked: 2 });
    } finally {
      CANONICAL_FORMS.delete(2);
    }
  });
});
