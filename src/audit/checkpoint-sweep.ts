// Checkpoints for tenants that went quiet. Appends sign the head when a checkpoint is due, so a
// tenant that stops writing would keep its last events unsigned; this signs them once the
// interval has passed. Started by the composition root (gateway.ts) for a serving gateway.
import type { Logger } from 'pino';
import type { ChainService } from './chain-service.ts';

export type CheckpointSweep = { stop(): void };

export function startCheckpointSweep({
  chain,
  tenantIds,
  intervalSeconds,
  logger,
}: {
  chain: Pick<ChainService, 'checkpointIfDue'>;
  /** Every tenant to look at; the tenant registry belongs to auth, which the audit layer sits below. */
  tenantIds: () => Promise<readonly number[]>;
  /** The checkpoint interval; the sweep looks at least once a minute, and no more often than this. */
  intervalSeconds: number;
  logger: Logger;
}): CheckpointSweep {
  const timer = setInterval(async () => {
    try {
      for (const tenantId of await tenantIds()) await chain.checkpointIfDue(tenantId);
    } catch (err) {
      logger.warn({ err }, 'checkpoint sweep failed; will retry');
    }
  }, Math.min(intervalSeconds, 60) * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
