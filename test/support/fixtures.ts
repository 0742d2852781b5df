// Event builders for tests: varied on purpose (ties in time, repeated actors, absent groups and
// targets) so that ordering and paging edge cases are exercised.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export type FixtureEvent = {
  action: string;
  actor?: { id?: string; email?: string; type?: string };
  groupId?: string;
  target?: { kind?: string; id?: string };
  ipAddress?: string;
  occurredAt: string;
  metadata?: Record<string, unknown>;
};

/** `count` events around `base`, with about a third sharing their timestamp with another. */
export function variedEvents(count: number, seed: number, base = Date.UTC(2026, 9, 1)): FixtureEvent[] {
  const rng = xoroshiro128plus(seed);
  const int = (a: number, b: number) => uniformInt(rng, a, b);
  const events: FixtureEvent[] = [];
  for (let i = 0; i < count; i++) {
    const actorN = int(0, 9);
    const at = base + int(0, 40) * 60_000 * 60; // 41 distinct hours: plenty of ties
    const e: FixtureEvent = {
      action: ['login', 'logout', 'create', 'enable', 'update-password'][int(0, 4)] as string,
      occurredAt: new Date(at).toISOString(),
      metadata: { i },
    };
    if (actorN > 0)
      e.actor = {
        id: `actor-${actorN}`,
        email: `user${actorN}@example.com`,
        type: actorN > 7 ? 'SERVICE' : 'USER',
      };
    if (int(0, 2) > 0) e.groupId = `group-${int(1, 4)}`;
    if (int(0, 3) > 0)
      e.target = {
        kind: ['feature', 'group', 'authenticate'][int(0, 2)] as string,
        id: `target-${int(1, 6)}`,
      };
    if (int(0, 1) === 1) e.ipAddress = `10.0.0.${int(1, 5)}`;
    events.push(e);
  }
  return events;
}

/** Byte-wise comparison, as the database's "C" collation orders text. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
