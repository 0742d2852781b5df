// Continuation tokens (Mural's nextToken) come from the same cursor module as GraphQL cursors,
// under a purpose of their own. Tokens signed under the purpose's old name (`mural`) still
// continue, so a client paging through an upgrade keeps its place.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenSigner } from '../src/audit/tokens.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';

const TOKEN_SECRET = 'continuation-test-secret-0123456789abcdef';
let t: TestGateway;
let tenant: TestTenant;
const page = async (query: string) => {
  const res = await t.fetch(`/enterprise/v1/audit-log?${query}`, { key: tenant.readKey });
  return { status: res.status, body: (await res.json()) as { data?: { id: string }[]; nextToken?: string } };
};

beforeAll(async () => {
  t = await startTestGateway({ TOKEN_SECRET });
  tenant = await t.newTenant('continue');
  const now = Date.now();
  for (let i = 0; i < 3; i++) {
    await t.gateway.audit.recordEvent(operatorViewer(tenant), {
      action: 'CREATE_MURAL',
      occurredAt: new Date(now - (i + 1) * 60_000).toISOString(),
    });
  }
});
afterAll(() => t.close());

describe('continuation tokens', () => {
  it('continue a listing, and one signed under the old purpose name continues it the same way', async () => {
    const first = await page('maxResults=1');
    expect(first.status).toBe(200);
    const token = first.body.nextToken as string;
    const next = await page(`maxResults=1&nextToken=${encodeURIComponent(token)}`);
    expect(next.status).toBe(200);
    expect(next.body.data?.[0]?.id).not.toBe(first.body.data?.[0]?.id);

    const payload = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8'));
    const legacy = new TokenSigner([TOKEN_SECRET]).sign('mural', tenant.id, payload);
    expect(legacy).not.toBe(token);
    const viaLegacy = await page(`maxResults=1&nextToken=${encodeURIComponent(legacy)}`);
    expect(viaLegacy).toEqual(next);
  });

  it('do not accept a GraphQL cursor, nor a token of another tenant', async () => {
    const first = await page('maxResults=1');
    const payload = JSON.parse(
      Buffer.from((first.body.nextToken as string).split('.')[0] as string, 'base64url').toString('utf8'),
    );
    const signer = new TokenSigner([TOKEN_SECRET]);
    for (const wrong of [
      signer.sign('cursor', tenant.id, payload),
      signer.sign('continuation', tenant.id + 1, payload),
    ]) {
      const res = await page(`maxResults=1&nextToken=${encodeURIComponent(wrong)}`);
      expect(res.status).toBe(400);
    }
  });
});
