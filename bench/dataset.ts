// The benchmark's dataset: about 200 tenants whose sizes follow Zipf's law (the largest holds
// about a sixth of all events) over 13 months, with events in the vocabulary of the four vendor
// APIs. Pure and repeatable: the same total and seed always give the same events, tenant by
// tenant, so a tenant can be generated without generating the others.
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { AuditEvent, JsonObject } from '../src/audit/model.ts';

/** Bump when the generated data changes, so `--reuse` does not reuse a stale database. */
export const GENERATOR_VERSION = 1;

const DAY_MS = 86_400_000;
/** Exclusive end of the history. Fixed, so the same seed gives the same data on any day. */
export const DATASET_END = Date.UTC(2026, 9, 1);
/** Thirteen months before the end. */
export const DATASET_START = Date.UTC(2025, 8, 1);

const TENANT_COUNT = 200;

/** The tenants the ingest scenarios write to, so the read scenarios' data never changes. */
export const INGEST_TENANTS = {
  gateway: 'bench-ingest-gateway',
  floor: 'bench-ingest-floor',
  floorChain: 'bench-ingest-floor-chain',
} as const;

/** A seeded stream of random numbers with the few draws the generator needs. */
export class Rng {
  readonly #gen: ReturnType<typeof xoroshiro128plus>;

  constructor(seed: number) {
    this.#gen = xoroshiro128plus(seed);
  }

  /** Uniform in [0, 1), 32 bits of randomness (plenty for test data). */
  float(): number {
    return (this.#gen.next() >>> 0) / 4_294_967_296;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.float() * xs.length)] as T;
  }

  hex(digits: number): string {
    let out = '';
    while (out.length < digits) out += (this.#gen.next() >>> 0).toString(16).padStart(8, '0');
    return out.slice(0, digits);
  }
}

/** Picks from a fixed table of weighted values in O(log n). */
class Weighted<T> {
  readonly #values: T[];
  readonly #cumulative: Float64Array;

  constructor(entries: readonly (readonly [T, number])[]) {
    this.#values = entries.map(([v]) => v);
    this.#cumulative = new Float64Array(entries.length);
    let sum = 0;
    entries.forEach(([, w], i) => {
      sum += w;
      this.#cumulative[i] = sum;
    });
  }

  pick(rng: Rng): T {
    const total = this.#cumulative[this.#cumulative.length - 1] as number;
    const x = rng.float() * total;
    let lo = 0;
    let hi = this.#cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#cumulative[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return this.#values[lo] as T;
  }
}

/** Weights 1/(i+1)^s for i in [0, n): a few values are very common, most are rare. */
function zipf(n: number, s: number): Weighted<number> {
  return new Weighted(Array.from({ length: n }, (_, i) => [i, 1 / (i + 1) ** s] as const));
}

// ---------------------------------------------------------------------------------------------
// Vocabulary: the actions and target kinds the vendor documents show, extended with the
// neighbours a real product of each kind records, weighted so logins dominate as they do.

const MADKUDU_ACTIONS = new Weighted<string>([
  ['logged-in', 30],
  ['logged-out', 10],
  ['viewed-report', 8],
  ['signed-up', 1.5],
  ['added-new-user', 2],
  ['asked-for-password-reset', 1.5],
  ['reset-password', 1.2],
  ['started-oauth', 2],
  ['completed-oauth', 1.8],
  ['activated-integration', 1],
  ['deactivated-integration', 0.4],
  ['added-credit-card', 0.2],
  ['updated-scoring-model', 1.5],
  ['exported-data', 1],
  ['created-api-key', 0.3],
  ['revoked-api-key', 0.1],
]);

type MuralKind = 'MURAL' | 'WORKSPACE' | 'ROOM' | 'USER' | 'COMPANY';
const MURAL_ACTIONS = new Weighted<{ action: string; kind: MuralKind }>([
  [{ action: 'CREATE_MURAL', kind: 'MURAL' }, 8],
  [{ action: 'DUPLICATE_MURAL', kind: 'MURAL' }, 2],
  [{ action: 'EXPORT_MURAL', kind: 'MURAL' }, 3],
  [{ action: 'SHARE_MURAL', kind: 'MURAL' }, 4],
  [{ action: 'DELETE_MURAL', kind: 'MURAL' }, 1.5],
  [{ action: 'ACCEPT_MEMBERSHIP', kind: 'WORKSPACE' }, 2],
  [{ action: 'INVITE_MEMBER', kind: 'WORKSPACE' }, 2.5],
  [{ action: 'REMOVE_MEMBER', kind: 'WORKSPACE' }, 0.6],
  [{ action: 'LEAVE_WORKSPACE', kind: 'WORKSPACE' }, 0.5],
  [{ action: 'CREATE_ROOM', kind: 'ROOM' }, 1.2],
  [{ action: 'DELETE_ROOM', kind: 'ROOM' }, 0.3],
  [{ action: 'SIGN_IN_SUCCESS', kind: 'USER' }, 25],
  [{ action: 'SIGN_IN_FAILURE', kind: 'USER' }, 3],
  [{ action: 'UPDATE_USER_ROLE', kind: 'USER' }, 0.8],
  [{ action: 'UPDATE_COMPANY_SSO', kind: 'COMPANY' }, 0.05],
  [{ action: 'UPDATE_COMPANY_SETTINGS', kind: 'COMPANY' }, 0.3],
  [{ action: 'CREATE_API_KEY', kind: 'COMPANY' }, 0.1],
]);

type WasabiKind = 'authenticate' | 'feature' | 'group' | 'location' | 'user' | 'asset' | 'search';
const WASABI_ACTIONS = new Weighted<{ action: string; kind: WasabiKind }>([
  [{ action: 'login', kind: 'authenticate' }, 25],
  [{ action: 'logout', kind: 'authenticate' }, 8],
  [{ action: 'failed-login', kind: 'authenticate' }, 3],
  [{ action: 'update-password', kind: 'authenticate' }, 1],
  [{ action: 'enable', kind: 'feature' }, 1],
  [{ action: 'disable', kind: 'feature' }, 0.5],
  [{ action: 'create', kind: 'group' }, 0.6],
  [{ action: 'delete', kind: 'group' }, 0.2],
  [{ action: 'add-member', kind: 'group' }, 1.5],
  [{ action: 'remove-member', kind: 'group' }, 0.6],
  [{ action: 'add-group', kind: 'location' }, 0.8],
  [{ action: 'update', kind: 'location' }, 0.4],
  [{ action: 'create', kind: 'user' }, 0.8],
  [{ action: 'update', kind: 'user' }, 1.2],
  [{ action: 'delete', kind: 'user' }, 0.2],
  [{ action: 'upload', kind: 'asset' }, 6],
  [{ action: 'view', kind: 'asset' }, 15],
  [{ action: 'download', kind: 'asset' }, 4],
  [{ action: 'tag', kind: 'asset' }, 3],
  [{ action: 'delete', kind: 'asset' }, 0.5],
  [{ action: 'query', kind: 'search' }, 10],
]);

const REPLICATED_ACTIONS = new Weighted<{ action: string; name: string; title: string; verb: string }>([
  [{ action: 'user.login.success', name: 'user.login', title: 'User Login Success', verb: 'logged in' }, 30],
  [
    {
      action: 'user.login.failure',
      name: 'user.login',
      title: 'User Login Failure',
      verb: 'failed to log in',
    },
    4,
  ],
  [{ action: 'user.logout', name: 'user.logout', title: 'User Logout', verb: 'logged out' }, 8],
  [
    {
      action: 'user.password.change',
      name: 'user.password',
      title: 'Password Changed',
      verb: 'changed their password',
    },
    1,
  ],
  [
    {
      action: 'app.config.update',
      name: 'app.config',
      title: 'Configuration Updated',
      verb: 'updated the configuration',
    },
    1,
  ],
  [
    {
      action: 'app.release.deploy',
      name: 'app.release',
      title: 'Release Deployed',
      verb: 'deployed a release',
    },
    0.5,
  ],
  [{ action: 'license.sync', name: 'license', title: 'License Synced', verb: 'synced the license' }, 0.5],
  [
    {
      action: 'support.bundle.create',
      name: 'support.bundle',
      title: 'Support Bundle Created',
      verb: 'created a support bundle',
    },
    0.3,
  ],
  [
    { action: 'snapshot.create', name: 'snapshot', title: 'Snapshot Created', verb: 'created a snapshot' },
    0.5,
  ],
  [
    {
      action: 'snapshot.restore',
      name: 'snapshot',
      title: 'Snapshot Restored',
      verb: 'restored a snapshot',
    },
    0.1,
  ],
]);

const FAMILIES = ['madkudu', 'mural', 'wasabi', 'replicated'] as const;
type Family = (typeof FAMILIES)[number];

const FIRST = [
  'Ada',
  'Grace',
  'Katherine',
  'Dorothy',
  'Alan',
  'Linus',
  'Margaret',
  'Edsger',
  'Barbara',
  'Ken',
  'Frances',
  'Donald',
  'José',
  'Zoë',
  'Łukasz',
  'Søren',
  'Aiko',
  'Chidi',
  'Priya',
  'Mateo',
  'Ingrid',
  'Yusuf',
  'Mei',
  'Olu',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Johnson',
  'Vaughan',
  'Turing',
  'Torvalds',
  'Hamilton',
  'Dijkstra',
  'Liskov',
  'Thompson',
  'Allen',
  'Knuth',
  'Álvarez',
  'Müller',
  'Nakamura',
  'Okafor',
  'Sharma',
  'Kowalski',
  'Berg',
  'Haddad',
];
const COMPANY_HEADS = [
  'north',
  'blue',
  'acme',
  'stellar',
  'iron',
  'green',
  'bright',
  'quantum',
  'silver',
  'red',
];
const COMPANY_TAILS = ['wind', 'rock', 'labs', 'works', 'field', 'forge', 'point', 'bridge', 'stone', 'wave'];
const TOPICS = [
  'Roadmap',
  'Retro',
  'Design review',
  'Planning',
  'Kickoff',
  'Brainstorm',
  'OKRs',
  'Journey map',
];
const TEAMS = ['Product', 'Design', 'Engineering', 'Marketing', 'Sales', 'Research', 'Ops', 'Leadership'];
const FEATURES = ['disabled_live_harvesting', 'smart_tags', 'face_search', 'audio_transcripts', 'auto_clips'];
const CLIENTS = ['web', 'desktop', 'ios', 'android'];
const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0',
  'curl/8.5.0',
  'wasabi-air-cli/2.1',
];
const ASSET_TYPES = ['video', 'image', 'audio', 'document'];

// ---------------------------------------------------------------------------------------------
// The plan: who the tenants are and how much each one does

export type TenantPlan = {
  /** 1 is the largest tenant. */
  rank: number;
  slug: string;
  company: string;
  events: number;
  seed: number;
  /** When the tenant's history starts (some tenants joined during the 13 months). */
  startsAt: number;
  /** How much busier the last day is than the first (activity grows over time). */
  growth: number;
  families: readonly (readonly [Family, number])[];
  actors: number;
  groups: number;
};

export type DatasetPlan = { seed: number; events: number; tenants: TenantPlan[] };

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

export function planDataset(events: number, seed: number): DatasetPlan {
  if (events < TENANT_COUNT * 50) throw new Error(`a dataset needs at least ${TENANT_COUNT * 50} events`);
  const rng = new Rng(seed);
  // Zipf with s = 1 over 200 tenants: the largest holds 1/H(200) ≈ 17% of all events. A little
  // noise below the top keeps neighbouring ranks from being exact fractions of each other.
  const weights = Array.from({ length: TENANT_COUNT }, (_, i) =>
    i === 0 ? 1 : (1 / (i + 1)) * (0.8 + 0.4 * rng.float()),
  );
  const total = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((events * w) / total)));
  sizes[0] = (sizes[0] as number) + events - sizes.reduce((a, b) => a + b, 0);
  const tenants = sizes.map((size, i): TenantPlan => {
    const rank = i + 1;
    const company = `${rng.pick(COMPANY_HEADS)}${rng.pick(COMPANY_TAILS)}`;
    const lateJoiner = rank > 10 && rng.chance(0.4);
    const startsAt = lateJoiner ? DATASET_START + Math.floor(rng.float() * 300) * DAY_MS : DATASET_START;
    const primary = rng.pick(FAMILIES);
    const secondary = rng.pick(FAMILIES.filter((f) => f !== primary));
    const families: (readonly [Family, number])[] =
      rank === 1
        ? [
            ['madkudu', 0.25],
            ['mural', 0.3],
            ['wasabi', 0.3],
            ['replicated', 0.15],
          ]
        : rng.chance(0.5)
          ? [
              [primary, 0.8],
              [secondary, 0.2],
            ]
          : [[primary, 1]];
    return {
      rank,
      slug: `t${String(rank).padStart(3, '0')}-${company}`,
      company,
      events: size,
      seed: (seed * 1_000_003 + rank * 7919) >>> 0,
      startsAt,
      growth: rank === 1 ? 4 : 0.5 + 3.5 * rng.float(),
      families,
      actors: clamp(Math.round(2.5 * size ** 0.55), 4, 20_000),
      groups: clamp(Math.round(size ** 0.4), 2, 3_000),
    };
  });
  return { seed, events, tenants };
}

// ---------------------------------------------------------------------------------------------
// Times

/** Activity by hour of day and day of week (UTC): office hours on weekdays are busiest. */
function activityAt(t: number): number {
  const day = Math.floor(t / DAY_MS);
  const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday; 0 is Sunday
  const hour = Math.floor((t - day * DAY_MS) / 3_600_000);
  return (weekday === 0 || weekday === 6 ? 0.35 : 1) * (hour >= 7 && hour <= 18 ? 1 : 0.25);
}

/**
 * Receive times of the tenant's events, sorted: drawn from a density growing linearly over the
 * tenant's life (1 at its start, 1 + growth at the end), thinned by the weekly pattern.
 */
function receiveTimes(plan: TenantPlan, rng: Rng): Float64Array {
  const span = DATASET_END - plan.startsAt;
  const g = plan.growth;
  const times = new Float64Array(plan.events);
  for (let i = 0; i < times.length; i++) {
    for (;;) {
      // Inverse CDF of f(x) ∝ 1 + g·x on [0, 1).
      const u = rng.float();
      const x = (-1 + Math.sqrt(1 + 2 * g * u * (1 + g / 2))) / g;
      const t = plan.startsAt + Math.floor(x * span);
      if (rng.float() < activityAt(t)) {
        times[i] = t;
        break;
      }
    }
  }
  return times.sort();
}

/** A UUIDv7 for a given millisecond, with the random bits from the seeded stream. */
export function uuidv7At(ms: number, rng: Rng): string {
  const time = ms.toString(16).padStart(12, '0');
  const variant = (8 + rng.int(0, 3)).toString(16);
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${rng.hex(3)}-${variant}${rng.hex(3)}-${rng.hex(12)}`;
}

// ---------------------------------------------------------------------------------------------
// Events

type Person = {
  id: string;
  email: string;
  name: string;
  type: string;
  company: string;
  ip: string;
};

function people(plan: TenantPlan, rng: Rng): Person[] {
  const domain = `${plan.company}.example`;
  return Array.from({ length: plan.actors }, (_, i) => {
    const first = rng.pick(FIRST);
    const last = rng.pick(LAST);
    const roll = rng.float();
    const type = roll < 0.92 ? 'USER' : roll < 0.98 ? 'SERVICE' : 'SYSTEM';
    const local =
      type === 'USER'
        ? `${first}.${last}${i}`
            .normalize('NFD')
            .replace(/[^A-Za-z0-9.]/g, '')
            .toLowerCase()
        : `svc-${i}`;
    return {
      id: `usr_${(i + 1).toString(16).padStart(6, '0')}${rng.hex(4)}`,
      email: `${local}@${domain}`,
      name: type === 'USER' ? `${first} ${last}` : `${plan.company} ${type.toLowerCase()} ${i}`,
      type,
      company: plan.company,
      ip: rng.chance(0.05)
        ? `2001:db8:${rng.hex(4)}::${rng.hex(4)}`
        : `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    };
  });
}

/** An event as the repository stores it, before the chain places it (no hash yet). */
export type PlannedEvent = Omit<AuditEvent, 'hash'>;

/**
 * The tenant's events in chain order (sequence 1, 2, 3… by receive time), as the gateway would
 * have stored them had each arrived through an API.
 */
export function* tenantEvents(plan: TenantPlan, tenantId: number): Generator<PlannedEvent> {
  const rng = new Rng(plan.seed);
  const received = receiveTimes(plan, rng);
  const crowd = people(plan, rng);
  const whoActs = zipf(crowd.length, 0.9);
  const families = new Weighted(plan.families);
  const groupIds = Array.from(
    { length: plan.groups },
    (_, i) => `grp_${(i + 1).toString().padStart(4, '0')}`,
  );
  const whichGroup = zipf(groupIds.length, 0.7);
  const none = { name: null, title: null, description: null, groupId: null, additionalId: null };

  for (let i = 0; i < received.length; i++) {
    const receivedAt = received[i] as number;
    // Most events arrive within a second; some are sent in batches minutes or hours late.
    const roll = rng.float();
    const delay =
      roll < 0.9 ? rng.int(5, 900) : roll < 0.99 ? rng.int(1_000, 60_000) : rng.int(60_000, 7_200_000);
    const occurredAt = receivedAt - delay;
    const person = crowd[whoActs.pick(rng)] as Person;
    const actor = {
      id: person.id,
      email: person.email,
      name: person.name,
      type: person.type,
      company: person.company,
    };
    const base = {
      id: uuidv7At(receivedAt, rng),
      tenantId,
      sequence: i + 1,
      occurredAt: new Date(occurredAt),
      receivedAt: new Date(receivedAt),
      sentAt: null as Date | null,
      ipAddress: person.ip,
      feature: null as AuditEvent['feature'],
      target: null as AuditEvent['target'],
    };
    const requestId = rng.hex(16);
    switch (families.pick(rng)) {
      case 'madkudu': {
        const action = MADKUDU_ACTIONS.pick(rng);
        const metas: JsonObject = action.includes('integration')
          ? { integration: rng.pick(['salesforce', 'hubspot', 'segment', 'snowflake']) }
          : action === 'viewed-report'
            ? { report: rng.pick(['pipeline', 'conversion', 'model-performance']) }
            : {};
        yield {
          ...base,
          ...none,
          action,
          actor,
          sentAt: new Date(occurredAt + rng.int(5, 900)),
          feature: { name: rng.pick(['general', 'scoring', 'segments', 'integrations']), metas },
          metadata: { source: 'madkudu-app', requestId },
        };
        break;
      }
      case 'mural': {
        const { action, kind } = MURAL_ACTIONS.pick(rng);
        const other = crowd[whoActs.pick(rng)] as Person;
        const target =
          kind === 'COMPANY'
            ? {
                kind,
                id: `${plan.company}-enterprise`,
                name: plan.company,
                email: null,
                company: plan.company,
              }
            : kind === 'USER'
              ? { kind, id: other.id, name: other.name, email: other.email, company: other.company }
              : kind === 'MURAL'
                ? {
                    kind,
                    id: `mural-${rng.int(1, plan.actors * 4)}`,
                    name: `${rng.pick(TOPICS)} ${rng.int(1, 99)}`,
                    email: null,
                    company: plan.company,
                  }
                : {
                    kind,
                    id: `${kind.toLowerCase()}-${whichGroup.pick(rng) + 1}`,
                    name: `${rng.pick(TEAMS)} ${kind === 'ROOM' ? 'room' : 'workspace'}`,
                    email: null,
                    company: plan.company,
                  };
        yield {
          ...base,
          ...none,
          action,
          actor,
          target,
          metadata: { client: rng.pick(CLIENTS), requestId },
        };
        break;
      }
      case 'wasabi': {
        const { action, kind } = WASABI_ACTIONS.pick(rng);
        const groupId = groupIds[whichGroup.pick(rng)] as string;
        const targetId =
          kind === 'authenticate'
            ? person.id
            : kind === 'feature'
              ? rng.pick(FEATURES)
              : kind === 'group'
                ? groupId
                : kind === 'location'
                  ? `loc_${rng.int(1, Math.max(2, plan.groups >> 2))}`
                  : kind === 'user'
                    ? (crowd[whoActs.pick(rng)] as Person).id
                    : kind === 'asset'
                      ? `ast_${rng.hex(10)}`
                      : `q_${rng.hex(8)}`;
        const metadata: JsonObject =
          kind === 'asset'
            ? {
                userAgent: rng.pick(USER_AGENTS),
                requestId,
                asset: { type: rng.pick(ASSET_TYPES), sizeBytes: rng.int(10_000, 2_000_000_000) },
              }
            : { userAgent: rng.pick(USER_AGENTS), requestId };
        yield {
          ...base,
          ...none,
          action,
          actor,
          groupId,
          target: { kind, id: targetId, name: null, email: null, company: null },
          additionalId: kind === 'location' && action === 'add-group' ? groupId : null,
          metadata,
        };
        break;
      }
      case 'replicated': {
        const r = REPLICATED_ACTIONS.pick(rng);
        // The Replicated API names no actor: who did it is only in the description.
        yield {
          ...base,
          ...none,
          action: r.action,
          name: r.name,
          title: r.title,
          description: `${person.email} ${r.verb}`,
          actor: null,
          metadata: {},
        };
        break;
      }
    }
  }
}
