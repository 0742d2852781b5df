// Realistic, repeatable demo events in the vocabulary of the four vendor documents (MadKudu's
// tracked events, Mural's actions, Wasabi's target kinds and action keys, Replicated's login
// example). Used by the demo seed, `audit-gateway seed`, and the benchmark's data generator.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export const VOCABULARY = {
  madkudu: [
    'activated-integration',
    'added-credit-card',
    'added-new-user',
    'asked-for-password-reset',
    'completed-oauth',
    'deactivated-integration',
    'logged-in',
    'logged-out',
    'reset-password',
    'signed-up',
    'started-oauth',
  ],
  mural: [
    { action: 'UPDATE_COMPANY_SSO', kind: 'COMPANY' },
    { action: 'CREATE_MURAL', kind: 'MURAL' },
    { action: 'ACCEPT_MEMBERSHIP', kind: 'WORKSPACE' },
    { action: 'SIGN_IN_FAILURE', kind: 'USER' },
    { action: 'LEAVE_WORKSPACE', kind: 'WORKSPACE' },
  ],
  wasabi: [
    { kind: 'authenticate', actions: ['login', 'update-password'] },
    { kind: 'feature', actions: ['enable'] },
    { kind: 'group', actions: ['create'] },
  ],
  replicated: [{ action: 'user.login.success', name: 'user.login', title: 'User Login Success' }],
} as const;

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
];
const COMPANIES = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const FEATURES = ['disabled_live_harvesting', 'smart_tags', 'face_search', 'audio_transcripts'];

export type DemoEventInput = {
  action: string;
  name?: string;
  title?: string;
  description?: string;
  actor?: { id?: string; email?: string; name?: string; type?: string; company?: string };
  groupId?: string;
  target?: { kind?: string; id?: string; name?: string; email?: string; company?: string };
  additionalId?: string;
  feature?: { name: string; metas: Record<string, unknown> };
  ipAddress?: string;
  occurredAt: string;
  sentAt?: string;
  metadata?: Record<string, unknown>;
};

export type DemoOptions = {
  count: number;
  seed: number;
  /** Newest possible occurrence time. */
  now: Date;
  /** Events spread over this many days before `now`, denser towards `now`. */
  spanDays: number;
  /** How many distinct people act (default 40). */
  actors?: number;
  /** Event id offset, so several calls can continue one stream of ids. */
  offset?: number;
};

/** A deterministic generator: the same options always produce the same events. */
export function* demoEvents(opts: DemoOptions): Generator<DemoEventInput> {
  const rng = xoroshiro128plus(opts.seed);
  const int = (min: number, max: number) => uniformInt(rng, min, max);
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const actorCount = opts.actors ?? 40;
  const people = Array.from({ length: actorCount }, (_, i) => {
    const first = FIRST[i % FIRST.length] as string;
    const last = LAST[Math.floor(i / FIRST.length) % LAST.length] as string;
    const company = COMPANIES[i % COMPANIES.length] as string;
    const id = `u_${(i + 1).toString(16).padStart(8, '0')}`;
    return {
      id,
      email: `${first}.${last}${i >= FIRST.length * LAST.length ? i : ''}@${company}.example`.toLowerCase(),
      name: `${first} ${last}`,
      company,
      ip: `203.0.${113 + (i % 3)}.${((i * 7) % 250) + 1}`,
    };
  });
  const spanMs = opts.spanDays * 86_400_000;
  for (let n = 0; n < opts.count; n++) {
    // Squaring a uniform draw puts more events near `now`, as real activity logs look.
    const u = int(0, 1_000_000) / 1_000_000;
    const occurred = new Date(opts.now.getTime() - Math.floor(u * u * spanMs) - int(0, 999));
    const person = pick(people);
    const actor = {
      id: person.id,
      email: person.email,
      name: person.name,
      type: 'USER',
      company: person.company,
    };
    const base = { actor, ipAddress: person.ip, occurredAt: occurred.toISOString() };
    const family = int(0, 9);
    if (family < 3) {
      const action = pick(VOCABULARY.madkudu);
      yield {
        ...base,
        action,
        sentAt: new Date(occurred.getTime() + int(5, 900)).toISOString(),
        feature: {
          name: 'general',
          metas: action.includes('integration')
            ? { integration: pick(['salesforce', 'hubspot', 'segment']) }
            : {},
        },
        metadata: { source: 'madkudu-app' },
      };
    } else if (family < 6) {
      const m = pick(VOCABULARY.mural);
      const target =
        m.kind === 'COMPANY'
          ? {
              kind: m.kind,
              id: `${person.company}-enterprise`,
              name: person.company,
              company: person.company,
            }
          : m.kind === 'USER'
            ? { kind: m.kind, id: person.id, email: person.email, name: person.name, company: person.company }
            : {
                kind: m.kind,
                id: `${m.kind.toLowerCase()}-${int(1, 60)}`,
                name: `${pick(['Roadmap', 'Retro', 'Design review', 'Planning'])} ${int(1, 20)}`,
                company: person.company,
              };
      yield {
        ...base,
        action: m.action,
        target,
        metadata: { client: pick(['web', 'desktop', 'ios', 'android']) },
      };
    } else if (family < 9) {
      const w = pick(VOCABULARY.wasabi);
      const action = pick(w.actions);
      const groupId = `g_${int(1, 12).toString().padStart(4, '0')}`;
      const targetId =
        w.kind === 'authenticate' ? person.id : w.kind === 'feature' ? pick(FEATURES) : groupId;
      yield {
        ...base,
        action,
        groupId,
        target: { kind: w.kind, id: targetId },
        ...(w.kind === 'group' ? { additionalId: `loc_${int(1, 30)}` } : {}),
        metadata: { userAgent: pick(['Mozilla/5.0', 'curl/8.5.0', 'wasabi-air-cli/2.1']) },
      };
    } else {
      const r = pick(VOCABULARY.replicated);
      yield {
        ...base,
        action: r.action,
        name: r.name,
        title: r.title,
        description: `${person.email} logged in successfully`,
      };
    }
  }
}
