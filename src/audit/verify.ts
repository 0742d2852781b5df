// Verifies a tenant's hash chain. Pure: it reads links (from the database or from an exported
// file) and signed statements, and says either "intact" or where the chain first breaks and how.
// The same code serves the GraphQL query, `audit-gateway verify` and the offline file check.
import { type CanonicalEvent, GENESIS_HASH, sha256Hex } from './chain.ts';
import { type ChainStatement, checkStatement, type KeyRing } from './signer.ts';

/** One stored event as the verifier sees it. */
export type ChainLink = {
  /** The sequence number the event is stored under. */
  seq: number;
  /** The hash stored with it (hex). */
  hash: string;
  /** The canonical bytes stored with it. */
  canonical: string;
  /**
   * The canonical serialization rebuilt from the event's queryable columns, for the claimed
   * document; differs from `canonical` when a column was edited. Absent offline (a file has no columns).
   * Null when the document names a version of the canonical form this gateway does not know (one
   * written by a newer release): the columns cannot be compared then, but the stored bytes are
   * still covered by their hash and the next event's link, so that is no sign of tampering.
   */
  fromColumns?: (claimed: CanonicalEvent) => string | null;
};

export type BreakKind = 'modified' | 'missing' | 'inserted' | 'reordered';

export type ChainBreak = { sequence: number; kind: BreakKind; detail: string };

export type VerificationResult = {
  intact: boolean;
  /** First and last sequence numbers checked, null when none. */
  from: number | null;
  to: number | null;
  eventsChecked: number;
  checkpointsChecked: number;
  /** Newest checked sequence number that a matched signed checkpoint vouches for; null when none. */
  signedThrough: number | null;
  break: ChainBreak | null;
};

/**
 * The verdict, for scripts: `intact` (every checked event verifies, and a signed checkpoint
 * covers them), `unsigned` (every checked event verifies, but no signed checkpoint covers any of
 * them: only the unsigned head vouches for them), `unknown-key` (the events verify, but some
 * statements are signed by a key this verifier does not hold, so they could not be checked), and
 * `broken` (`break` says where).
 */
export type VerificationStatus = 'intact' | 'unsigned' | 'unknown-key' | 'broken';

export function verdict(result: VerificationResult, unknownKeyIds: string[]): VerificationStatus {
  if (result.break) return 'broken';
  if (unknownKeyIds.length > 0) return 'unknown-key';
  if (result.eventsChecked > 0 && result.signedThrough === null) return 'unsigned';
  return 'intact';
}

/** Exit status of `audit-gateway verify` for each verdict (1 is also any error). */
export const EXIT_STATUS: Record<VerificationStatus, number> = {
  intact: 0,
  broken: 1,
  unsigned: 3,
  'unknown-key': 4,
};

export type ChainEnd = { seq: number; hash?: string | undefined; source: string };

/** A signed statement as stored or exported: the exact signed text and its signature. */
export type SignedStatementText = { statement: string; signature: string };

export type VerifyOptions = {
  tenantId: number;
  /** The chain starts here: sequence 1 after the genesis hash, or just after a prune anchor. */
  start: { seq: number; prev: string };
  /**
   * Where the chain must end, when known (the stored head, the end of a requested range, a file's
   * head record). A function is asked after the last link is read (a file's head comes last).
   */
  end?: ChainEnd | (() => ChainEnd | undefined) | undefined;
  /** Signature-checked checkpoints: the chain must have exactly this hash at this sequence. */
  checkpoints?: ChainStatement[];
};

type Parsed = { link: ChainLink; doc: CanonicalEvent | null };

/**
 * Walks links in ascending sequence order. Checks, for each: the sequence follows the previous
 * one, the stored hash is the SHA-256 of the stored canonical bytes, the canonical document names
 * this tenant, this sequence and the previous event's hash, and the columns say what the
 * canonical bytes say. Then checks the end against the head and every checkpoint.
 */
export async function verifyLinks(
  links: AsyncIterable<ChainLink>,
  opts: VerifyOptions,
): Promise<VerificationResult> {
  const checkpoints = new Map<number, ChainStatement>();
  for (const c of opts.checkpoints ?? []) if (c.seq >= opts.start.seq) checkpoints.set(c.seq, c);
  let expected = opts.start.seq;
  let prev = opts.start.prev;
  const recent = new Map<number, string>([[opts.start.seq - 1, opts.start.prev]]);
  let checked = 0;
  let checkpointsChecked = 0;
  let lastGoodCheckpoint = opts.start.seq - 1;
  const result = (brk: ChainBreak | null): VerificationResult => ({
    intact: brk === null,
    from: checked > 0 || brk ? opts.start.seq : null,
    to: checked > 0 ? expected - 1 : null,
    eventsChecked: checked,
    checkpointsChecked,
    signedThrough: brk === null && lastGoodCheckpoint >= opts.start.seq ? lastGoodCheckpoint : null,
    break: brk,
  });

  const iterator = links[Symbol.asyncIterator]();
  let lookahead: Parsed | null = null;
  const next = async (): Promise<Parsed | null> => {
    if (lookahead) {
      const l = lookahead;
      lookahead = null;
      return l;
    }
    const r = await iterator.next();
    return r.done ? null : { link: r.value, doc: parse(r.value.canonical) };
  };
  const peek = async (): Promise<Parsed | null> => {
    lookahead ??= await next();
    return lookahead;
  };

  try {
    for (let item = await next(); item; item = await next()) {
      const { link, doc } = item;
      if (link.seq < expected) {
        return result({
          sequence: link.seq,
          kind: 'inserted',
          detail: `a second event is stored under sequence ${link.seq}`,
        });
      }
      if (link.seq > expected) {
        return result({
          sequence: expected,
          kind: 'missing',
          detail: `no event is stored under sequence ${expected}`,
        });
      }
      if (!doc)
        return result({
          sequence: link.seq,
          kind: 'modified',
          detail: 'the stored canonical bytes are not a chain document',
        });
      if (sha256Hex(link.canonical) !== link.hash) {
        return result({
          sequence: link.seq,
          kind: 'modified',
          detail: 'the stored hash does not match the stored canonical bytes',
        });
      }
      if (doc.seq !== link.seq) {
        if (doc.seq === link.seq - 1 && doc.prev === recent.get(link.seq - 2)) {
          return result({
            sequence: link.seq - 1,
            kind: 'inserted',
            detail: `an event was inserted at sequence ${link.seq - 1}; the original moved to ${link.seq}`,
          });
        }
        if (doc.seq === link.seq + 1) {
          const after = await peek();
          if (after?.doc?.seq === link.seq) {
            return result({
              sequence: link.seq,
              kind: 'reordered',
              detail: `events ${link.seq} and ${link.seq + 1} swapped places`,
            });
          }
          return result({
            sequence: link.seq,
            kind: 'missing',
            detail: `event ${link.seq} was removed and the later ones renumbered`,
          });
        }
        return result({
          sequence: link.seq,
          kind: 'reordered',
          detail: `the event stored under sequence ${link.seq} was written as sequence ${doc.seq}`,
        });
      }
      if (doc.tenant !== opts.tenantId) {
        return result({
          sequence: link.seq,
          kind: 'modified',
          detail: `the event names tenant ${doc.tenant}`,
        });
      }
      const rebuilt = link.fromColumns?.(doc) ?? null;
      if (rebuilt !== null && rebuilt !== link.canonical) {
        return result({
          sequence: link.seq,
          kind: 'modified',
          detail: 'a stored field differs from the hashed canonical bytes',
        });
      }
      if (doc.prev !== prev) {
        // This event links to a predecessor other than the one stored: that one was replaced.
        const at = Math.max(link.seq - 1, opts.start.seq);
        return result({
          sequence: at,
          kind: 'modified',
          detail: `event ${link.seq} does not link to the event stored before it`,
        });
      }
      const checkpoint = checkpoints.get(link.seq);
      if (checkpoint) {
        if (checkpoint.hash !== link.hash) {
          // The signed event may simply have been pushed one place on by an inserted one.
          const after = await peek();
          if (after?.doc?.seq === link.seq && after.doc.prev === prev) {
            return result({
              sequence: link.seq,
              kind: 'inserted',
              detail: `an event was inserted at sequence ${link.seq}; the signed one moved to ${link.seq + 1}`,
            });
          }
          return result({
            sequence: lastGoodCheckpoint + 1,
            kind: 'modified',
            detail: `the chain does not match the signed checkpoint at sequence ${link.seq}: history after ${lastGoodCheckpoint} was rewritten`,
          });
        }
        checkpointsChecked += 1;
        lastGoodCheckpoint = link.seq;
      }
      prev = link.hash;
      recent.set(link.seq, link.hash);
      recent.delete(link.seq - 3);
      expected += 1;
      checked += 1;
    }
  } finally {
    await iterator.return?.();
  }

  const last = expected - 1;
  const beyond = [...checkpoints.keys()].filter((s) => s > last).sort((a, b) => a - b)[0];
  if (beyond !== undefined) {
    return result({
      sequence: expected,
      kind: 'missing',
      detail: `a signed checkpoint covers sequence ${beyond}, but the chain ends at ${last}`,
    });
  }
  const end = typeof opts.end === 'function' ? opts.end() : opts.end;
  if (end) {
    if (last < end.seq) {
      return result({
        sequence: expected,
        kind: 'missing',
        detail: `the ${end.source} says the chain reaches ${end.seq}, but it ends at ${last}`,
      });
    }
    if (last > end.seq) {
      return result({
        sequence: end.seq + 1,
        kind: 'inserted',
        detail: `events beyond the ${end.source} (${end.seq})`,
      });
    }
    if (end.hash !== undefined && end.hash !== prev) {
      return result({
        sequence: last,
        kind: 'modified',
        detail: `the newest event's hash differs from the ${end.source}`,
      });
    }
  }
  return result(null);
}

function parse(canonical: string): CanonicalEvent | null {
  try {
    const doc = JSON.parse(canonical) as CanonicalEvent;
    if (
      typeof doc !== 'object' ||
      doc === null ||
      typeof doc.seq !== 'number' ||
      typeof doc.prev !== 'string'
    )
      return null;
    return doc;
  } catch {
    return null;
  }
}

export type StatementSort = {
  /** Statements whose signature verifies with the key they name. */
  valid: ChainStatement[];
  /** Statements that fail: a bad signature, not a statement, or about another tenant. */
  invalid: { statement: string; reason: string }[];
  /** Statements signed by a key the ring does not hold, with what they claim (unverified). */
  unknown: { keyId: string; claimed: ChainStatement }[];
};

/** Checks signed statements against a key ring and sorts them into valid, invalid and unknown-key. */
export function checkStatements(
  ring: KeyRing,
  tenantId: number,
  signed: SignedStatementText[],
): StatementSort {
  const sorted: StatementSort = { valid: [], invalid: [], unknown: [] };
  for (const s of signed) {
    const check = checkStatement(ring, s.statement, s.signature);
    if (check.ok) {
      if (check.statement.tenant === tenantId) sorted.valid.push(check.statement);
      else
        sorted.invalid.push({
          statement: s.statement,
          reason: `it is about tenant ${check.statement.tenant}`,
        });
    } else if (check.unknownKey !== null && check.claimed) {
      sorted.unknown.push({ keyId: check.unknownKey, claimed: check.claimed });
    } else sorted.invalid.push({ statement: s.statement, reason: check.reason });
  }
  return sorted;
}

/** Distinct key ids, in first-seen order. */
export function unknownKeyIds(sorted: StatementSort): string[] {
  return [...new Set(sorted.unknown.map((u) => u.keyId))];
}

/** The sequence number a statement claims to cover (0 when it does not parse), for reporting. */
export function claimedSequence(statement: string): number {
  try {
    const seq = (JSON.parse(statement) as { seq?: unknown }).seq;
    return typeof seq === 'number' ? seq : 0;
  } catch {
    return 0;
  }
}

/** Where verification starts: after the newest valid prune anchor, or at the genesis. */
export function chainStart(anchors: ChainStatement[]): { seq: number; prev: string } {
  const newest = anchors.filter((a) => a.type === 'anchor').sort((a, b) => b.seq - a.seq)[0];
  return newest ? { seq: newest.seq + 1, prev: newest.hash } : { seq: 1, prev: GENESIS_HASH };
}

/** One line for a person, as `audit-gateway verify` prints it. */
export function summarizeVerification(
  report: VerificationResult & { status: VerificationStatus; unknownKeyIds: string[] },
): string {
  const range = report.from !== null ? ` (${report.from}..${report.to})` : '';
  switch (report.status) {
    case 'broken':
      return `BROKEN at sequence ${report.break?.sequence} (${report.break?.kind}): ${report.break?.detail}`;
    case 'unknown-key':
      return (
        `UNKNOWN KEY: ${report.eventsChecked} events${range} link correctly, but statements are signed by an unknown key ` +
        `${report.unknownKeyIds.join(', ')} and could not be checked (give its public key: SIGNING_KEY_PREVIOUS, or --public-key)`
      );
    case 'unsigned':
      return `UNSIGNED: ${report.eventsChecked} events${range} link correctly, but no signed checkpoint covers them`;
    case 'intact': {
      const tail =
        report.signedThrough !== null && report.to !== null && report.signedThrough < report.to
          ? ` (events after it are covered by the head only)`
          : '';
      return (
        `intact: ${report.eventsChecked} events${range}, ${report.checkpointsChecked} signed checkpoints matched` +
        (report.signedThrough !== null ? `, signed through ${report.signedThrough}${tail}` : '')
      );
    }
  }
}
