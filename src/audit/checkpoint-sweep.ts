// Checkpoints for tenants that went quiet. Appends sign the head when a checkpoint is due, so a
// tenant that stops writing would keep its last events unsigned; this signs them once the
// interval has passed. Started by the composition root (gateway.ts) for a serving gateway; with
// several instances on one database, one of them sweeps at a time (`exclusive`). Each head is
// signed under its row lock either way, so a checkpoint is never signed twice for one due point.
import type { Logger } from 'pino';
import type { ChainService } from './chain-service.ts';

export type CheckpointSweep = { stop(): void };

export function startCheckpointSweep({
  chain,
  tenantIds,
  intervalSeconds,
  logger,
  exclusive = (fn) => fn().then(() => true),
}: {
  chain: Pick<ChainService, 'checkpointIfDue'>;
  /** Every tenant to look at; the tenant registry belongs to auth, which the audit layer sits below. */
  tenantIds: () => Promise<readonly number[]>;
  /** The checkpoint interval; the sweep looks at least once a minute, and no more often than this. */
  intervalSeconds: number;
  logger: Logger;
  /** Runs a sweep unless another instance is running one; resolves to whether it ran. */
  exclusive?: (sweep: () => Promise<void>) => Promise<boolean>;
}): CheckpointSweep {
  const timer = setInterval(async () => {
    try {
      await exclusive(async () => {
        for (const tenantId of await tenantIds()) await chain.checkpointIfDue(tenantId);
      });
    } catch (err) {
      logger.warn({ err }, 'checkpoint sweep failed; will retry');
    }
  }, Math.min(intervalSeconds, 60) * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
