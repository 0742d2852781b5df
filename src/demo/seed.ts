// Records demo events through the service's batch path (the one POSTed batches take: validation,
// hash chain, checkpoints), a full batch per call, reporting progress as it goes.
import { type AuditService, MAX_BATCH } from '../audit/service.ts';
import type { Viewer } from '../audit/viewer.ts';

export type SeedProgress = (stored: number, total: number) => void;

/** Records `total` events from `events` as the viewer (the operator, for a seed); returns how many were stored. */
export async function recordDemoEvents(
  audit: AuditService,
  viewer: Viewer,
  events: Iterable<unknown>,
  total: number,
  onProgress?: SeedProgress,
): Promise<number> {
  let stored = 0;
  let sent = 0;
  let batch: unknown[] = [];
  const flush = async () => {
    const results = await audit.recordEvents(viewer, batch);
    stored += results.filter((r) => r.ok).length;
    sent += batch.length;
    batch = [];
    onProgress?.(sent, total);
  };
  onProgress?.(0, total);
  for (const event of events) {
    batch.push(event);
    if (batch.length === MAX_BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return stored;
}

/**
 * A progress line on an interactive terminal ("seeding demo events: 1000/3000"), redrawn in place
 * and cleared when done; nothing when the stream is a pipe or a file, so logs stay clean.
 */
export function terminalProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): SeedProgress | undefined {
  if (!stream.isTTY) return undefined;
  return (stored, total) => {
    stream.write(`\r${label}: ${stored}/${total}`);
    if (stored >= total) stream.write('\r\x1b[K');
  };
}
