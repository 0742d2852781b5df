// A tenant that goes quiet still gets its last events signed: the sweep the composition root
// starts for a serving gateway checkpoints heads once the interval has passed.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCheckpointSweep } from '../src/audit/checkpoint-sweep.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ CHECKPOINT_INTERVAL_SECONDS: '1', CHECKPOINT_EVERY_EVENTS: '1000' });
});
afterAll(() => t.close());

describe('the checkpoint sweep', () => {
  it("signs a quiet tenant's head once the interval has passed", async () => {
    const tenant = await t.newTenant('sweep');
    const operator = operatorViewer(tenant);
    const event = { action: 'user.login', actor: { id: 'u1' } };
    // The first event is checkpointed at once (no checkpoint yet); the second, inside the
    // interval, is not, and no further event arrives to trigger one.
    await t.gateway.audit.recordEvent(operator, event);
    await t.gateway.audit.recordEvent(operator, event);
    const signedSeqs = async () =>
      (await t.gateway.chain.listCheckpoints(operator, undefined, 10))
        .filter((c) => c.kind === 'checkpoint')
        .map((c) => c.seq);
    expect(await signedSeqs()).toEqual([1]);

    const sweep = startCheckpointSweep({
      chain: t.gateway.chain,
      tenantIds: async () => [tenant.id],
      intervalSeconds: 1,
      logger: pino({ level: 'silent' }),
    });
    try {
      await vi.waitFor(async () => expect(await signedSeqs()).toEqual([1, 2]), {
        timeout: 10_000,
        interval: 200,
      });
    } finally {
      sweep.stop();
    }
  });
});
