// A lost commit notification delays the live tail but never drops an event (src/audit/live-tail.ts).
// A second LiveTail on the gateway's database hears no notification at all (its listener drops
// every one) and gets none of the gateway's in-process wake-ups, so only its poll can deliver what
// the gateway commits. With a short poll it delivers every event, in order; with an hour's poll
// nothing arrives within a second, so it is the poll, not anything else, that delivered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveTail, type TailItem } from '../src/audit/live-tail.ts';
import type { Viewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway, type TestTenant } from './support/gateway.ts';
import { recordBatch } from './support/rest.ts';

let t: TestGateway;
let tenant: TestTenant;

beforeAll(async () => {
  t = await startTestGateway();
  tenant = await t.newTenant('tail-poll');
});
afterAll(() => t?.close());

function deafTail(pollMs: number): LiveTail {
  return new LiveTail({
    db: t.gateway.database.db,
    cursorOf: (tenantId, seq) => `${tenantId}:${seq}`,
    recheck: async () => {},
    pollMs,
    recheckMs: 60_000,
    queueLimit: 1000,
    perKey: 10,
    perTenant: 10,
  });
}

const viewer = (): Viewer => ({
  tenantId: tenant.id,
  tenantSlug: tenant.slug,
  keyId: 'tail-poll-test',
  scopes: new Set(['read']),
});

/** The next item, or 'nothing' when none comes within `ms`. */
async function nextWithin(sub: { next(): Promise<IteratorResult<TailItem>> }, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'nothing'>((resolve) => {
    timer = setTimeout(() => resolve('nothing'), ms);
  });
  try {
    return await Promise.race([sub.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the live tail without notifications', () => {
  it('delivers every committed event by its poll, in order', async () => {
    const tail = deafTail(100);
    // Notifications lost: the listener announces that it listens, then drops everything.
    await tail.listen(async (_channel, _onNotify, onListening) => {
      onListening();
      return async () => {};
    });
    try {
      const sub = await tail.subscribe(viewer(), {}, undefined);
      await recordBatch(t, tenant.key, [{ action: 'poll.a' }, { action: 'poll.b' }, { action: 'poll.c' }]);
      const actions: string[] = [];
      for (let i = 0; i < 3; i++) {
        const item = await nextWithin(sub, 5_000);
        if (item === 'nothing' || item.done || !('node' in item.value)) throw new Error(`no event ${i}`);
        actions.push(item.value.node.action);
      }
      expect(actions).toEqual(['poll.a', 'poll.b', 'poll.c']);
    } finally {
      await tail.close();
    }
  });

  it('delivers nothing before its poll is due (the control)', async () => {
    const tail = deafTail(3_600_000);
    try {
      const sub = await tail.subscribe(viewer(), {}, undefined);
      await recordBatch(t, tenant.key, [{ action: 'poll.unseen' }]);
      expect(await nextWithin(sub, 1_000)).toBe('nothing');
    } finally {
      await tail.close();
    }
  });
});
