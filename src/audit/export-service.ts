// Filtered exports (CSV for spreadsheets, NDJSON as evidence): the same filters and viewer slice
// as every read, streamed in sequence order in keyset batches, resumable from any row's cursor.
// An NDJSON export also proves that each event it holds is in the signed chain: before it signs
// its closing statement the gateway has walked the stored chain from the first exported event to
// a signed checkpoint, checking every hash and link (docs/tamper-evidence.md says what it proves).
import type { Db } from '../db/client.ts';
import { ValidationError } from '../errors.ts';
import { sha256Hex } from './chain.ts';
import type { ChainService } from './chain-service.ts';
import { Cursors } from './cursors.ts';
import {
  BOM,
  csvHeader,
  csvRows,
  ExportDigest,
  type ExportFormat,
  type ExportStatement,
  FILTERED_EXPORT_FORMAT,
  ndjsonEventLine,
} from './export-format.ts';
import { type EventFilter, validateFilter } from './filters.ts';
import type { StoredStatement } from './model.ts';
import type { ReadLog } from './read-log.ts';
import { listCheckpoints } from './repository/checkpoints.ts';
import { type ExportRange, streamMatchingEvents, walkFromFirstMatch } from './repository/export-reads.ts';
import { type ChainSigner, type ChainStatement, checkStatement, type KeyRing } from './signer.ts';
import type { TokenSigner } from './tokens.ts';
import { type Restriction, requireScope, type Viewer } from './viewer.ts';

export type ExportRequest = {
  filter: EventFilter;
  format: ExportFormat;
  /** A `cursor` from an earlier export of the same filter: continue after that event. */
  after?: string | undefined;
  /** CSV only: start with a UTF-8 byte order mark (for Excel). */
  bom?: boolean | undefined;
  batchSize?: number | undefined;
};

export type ExportStream = {
  /** The chain position the export stops at (its checkpoint); a resumed export keeps its first one's. */
  throughSeq: number;
  /** The text, in chunks of one batch each; pull-driven, so a slow reader pauses the reads. */
  chunks: AsyncGenerator<string>;
  /** How many events the chunks read so far hold (for a progress line). */
  progress: { events: number };
};

type ExportCursor = { q: string; t: number };

// The text goes out in pieces of about 64 KB (CSV rows of ~0.5 KB, NDJSON lines of ~1 KB), not a
// database batch (~1-2 MB) at a time: a piece that size (and its encoded copy) can die young in
// V8's new space; a whole batch's text goes to large-object space and waits for a full collection.
const CHUNK_ROWS = 128;
const CHUNK_CHARS = 64 * 1024;

// Exports are in sequence order whatever the filter; cursors are bound to the filter and slice.
const EXPORT_ORDER = { field: 'occurredAt', direction: 'asc' } as const;

export type ExportServiceOptions = {
  db: Db;
  signer: ChainSigner;
  tokens: TokenSigner;
  chain: Pick<ChainService, 'checkpointIfDue'>;
  /** Where every export leaves its record once it ends (who read the trail). */
  readLog: Pick<ReadLog, 'record'>;
  /** How long one read of an export with filter.search may run before it is stopped (default 10 s). */
  searchTimeoutMs?: number | undefined;
};

export class ExportService {
  readonly #db: Db;
  readonly #signer: ChainSigner;
  readonly #tokens: TokenSigner;
  readonly #cursors: Cursors;
  readonly #chain: Pick<ChainService, 'checkpointIfDue'>;
  readonly #readLog: Pick<ReadLog, 'record'>;
  readonly #searchTimeoutMs: number;

  constructor(options: ExportServiceOptions) {
    this.#db = options.db;
    this.#signer = options.signer;
    this.#tokens = options.tokens;
    this.#cursors = new Cursors(options.tokens);
    this.#chain = options.chain;
    this.#readLog = options.readLog;
    this.#searchTimeoutMs = options.searchTimeoutMs ?? 10_000;
  }

  /**
   * Checks the request (scope, filter, cursor) and fixes the export's end before anything is
   * streamed, so a refusal is a clean error. A fresh export signs the head first and stops
   * there, so later appends do not run past its checkpoint; a resumed one stops where the first
   * part did, so the parts together hold exactly the events of one export.
   */
  async exportEvents(viewer: Viewer, request: ExportRequest): Promise<ExportStream> {
    requireScope(viewer, 'read');
    const { tenantId, restriction } = viewer;
    const filter = validateFilter(request.filter, 'filter');
    const queryKey = this.#cursors.queryKey(filter, EXPORT_ORDER, restriction);
    let afterSeq = 0;
    let throughSeq: number;
    if (request.after !== undefined) {
      const colon = request.after.indexOf(':');
      const seq = Number(request.after.slice(0, colon));
      const c = this.#tokens.verify(
        'export',
        tenantId,
        request.after.slice(colon + 1),
      ) as ExportCursor | null;
      if (
        !c ||
        colon < 1 ||
        !Number.isSafeInteger(seq) ||
        seq < 0 ||
        typeof c.t !== 'number' ||
        typeof c.q !== 'string'
      )
        throw new ValidationError('after', 'is not a cursor of an export of this tenant');
      if (c.q !== queryKey)
        throw new ValidationError(
          'after',
          'belongs to an export with another filter; start again without it',
        );
      afterSeq = Math.min(seq, c.t);
      throughSeq = c.t;
    } else {
      throughSeq = (await this.#chain.checkpointIfDue(tenantId, true)).seq;
    }
    // `<seq>:<signed base>`: the base (filter, slice, end) is signed once per export, not per row.
    // The sequence number is outside the signature on purpose: changing it only moves where a
    // viewer resumes within the same filter and slice, which it may export anyway.
    const base = this.#tokens.sign('export', tenantId, { q: queryKey, t: throughSeq } satisfies ExportCursor);
    const cursor = (seq: number) => `${seq}:${base}`;
    const range: Range = {
      filter,
      restriction,
      afterSeq,
      throughSeq,
      batchSize: request.batchSize,
      searchTimeoutMs: this.#searchTimeoutMs,
    };
    const progress = { events: 0 };
    const chunks =
      request.format === 'csv'
        ? this.#csv(tenantId, range, cursor, request.bom ?? false, progress)
        : this.#ndjson(viewer, range, cursor, request.after ?? null, progress);
    const read = { ...filter, format: request.format, ...(request.after ? { after: request.after } : {}) };
    // The first chunk holds the first read of events, so a refusal there (a search that runs too
    // long) is still a clean error, before the response has begun.
    let first: IteratorResult<string>;
    try {
      first = await chunks.next();
    } catch (error) {
      this.#readLog.record(viewer, 'events', read, 0);
      throw error;
    }
    return { throughSeq, chunks: this.#recorded(viewer, first, chunks, read, progress), progress };
  }

  /** The export's chunks, leaving one read record when the export ends, however it ends. */
  async *#recorded(
    viewer: Viewer,
    first: IteratorResult<string>,
    chunks: AsyncGenerator<string>,
    read: object,
    progress: { events: number },
  ): AsyncGenerator<string> {
    try {
      if (first.done) return;
      yield first.value;
      yield* chunks;
    } finally {
      await chunks.return(undefined);
      this.#readLog.record(viewer, 'events', read, progress.events);
    }
  }

  async *#csv(
    tenantId: number,
    range: Range,
    cursor: (seq: number) => string,
    bom: boolean,
    progress: { events: number },
  ): AsyncGenerator<string> {
    let head = (bom ? BOM : '') + csvHeader();
    for await (const batch of streamMatchingEvents(this.#db, tenantId, range)) {
      for (let i = 0; i < batch.length; i += CHUNK_ROWS) {
        const rows = batch.slice(i, i + CHUNK_ROWS);
        progress.events += rows.length;
        yield head + csvRows(rows.map((event) => ({ event, cursor: cursor(event.sequence) })));
        head = '';
      }
    }
    if (head) yield head;
  }

  /**
   * The stored checkpoints the walk holds the chain against, and the one the export stops at. In
   * a function of its own so the rows read are garbage once it returns, not held by the
   * generator for the whole export.
   */
  async #checkpoints(
    tenantId: number,
    range: Range,
  ): Promise<{ checkpoints: SignedCheckpoints; checkpoint: StoredStatement | undefined }> {
    const stored = await listCheckpoints(this.#db, tenantId, { afterSeq: range.afterSeq, limit: 10_000_000 });
    return {
      checkpoints: new SignedCheckpoints(this.#signer.ring, tenantId, stored),
      checkpoint: stored.find((s) => s.kind === 'checkpoint' && s.seq === range.throughSeq),
    };
  }

  async *#ndjson(
    viewer: Viewer,
    range: Range,
    cursor: (seq: number) => string,
    after: string | null,
    progress: { events: number },
  ): AsyncGenerator<string> {
    const tenantId = viewer.tenantId;
    const { checkpoints, checkpoint } = await this.#checkpoints(tenantId, range);
    const filter = describeFilter(range.filter);
    const restriction = describeRestriction(range.restriction);
    // Sent with the first batch of the walk (see exportEvents).
    let text = line({
      type: 'header',
      format: FILTERED_EXPORT_FORMAT,
      version: 1,
      tenant: tenantId,
      slug: viewer.tenantSlug,
      keyId: this.#signer.keyId,
      filter,
      restriction,
      after,
      throughSeq: range.throughSeq,
      exportedAt: new Date().toISOString(),
    });
    const digest = new ExportDigest();
    // The walk: every stored link from the first matching event to the checkpoint must hash to
    // its stored hash and name the one before it; a signed checkpoint on the way must match.
    let expected: number | null = null;
    let prev: string | null = null;
    let headHash: string | null = null;
    for await (const batch of walkFromFirstMatch(this.#db, tenantId, range)) {
      for (const link of batch) {
        const problem = linkProblem(link, tenantId, expected, prev, checkpoints);
        if (problem) {
          yield text + line({ type: 'error', seq: link.seq, detail: problem });
          return;
        }
        expected = link.seq + 1;
        prev = link.hash;
        headHash = link.hash;
        if (!link.matches) continue;
        digest.add(link.seq, link.hash);
        text += ndjsonEventLine(link.seq, link.hash, link.canonical, cursor(link.seq));
        if (text.length >= CHUNK_CHARS) {
          progress.events = digest.count;
          yield text;
          text = '';
        }
      }
    }
    progress.events = digest.count;
    if (text) yield text;
    if (expected !== null && expected !== range.throughSeq + 1) {
      yield line({
        type: 'error',
        seq: expected,
        detail: `the chain ends at ${expected - 1}, before the checkpoint at ${range.throughSeq}`,
      });
      return;
    }
    if (checkpoint && headHash !== null && checkpoint.hash !== headHash) {
      yield line({
        type: 'error',
        seq: range.throughSeq,
        detail: 'the stored chain does not match the checkpoint the export stops at',
      });
      return;
    }
    if (checkpoint)
      yield line({ type: 'statement', statement: checkpoint.statement, signature: checkpoint.signature });
    const signed = this.#signer.signExport({
      tenant: tenantId,
      seq: range.throughSeq,
      hash: checkpoint?.hash ?? '',
      afterSeq: range.afterSeq,
      count: digest.count,
      digest: digest.hex(),
      filter,
      restriction,
      time: new Date().toISOString(),
    } satisfies Omit<ExportStatement, 'v' | 'type' | 'kid'>);
    yield line({ type: 'export', ...signed });
  }
}

type Range = ExportRange;

/**
 * The tenant's stored checkpoints by the position and hash each statement claims, for the walk
 * to hold the chain against. A signature is checked only where the chain disagrees with a claim:
 * a disagreement is an alarm only when the checkpoint is validly signed (one that is not proves
 * nothing either way, as in the database verifier), and agreement needs no signature to raise
 * none. Checking every signature up front cost more than the rest of the walk on a tenant with
 * many hourly checkpoints (bench E1); the decisions are the same. The checkpoint an export stops
 * at is checked offline with the rest of the file.
 */
class SignedCheckpoints {
  readonly #claims = new Map<number, { hash: string; statement: string; signature: string }[]>();

  constructor(
    private readonly ring: KeyRing,
    private readonly tenantId: number,
    stored: readonly StoredStatement[],
  ) {
    for (const s of stored) {
      if (s.kind !== 'checkpoint') continue;
      let claim: Partial<ChainStatement> | null;
      try {
        claim = JSON.parse(s.statement) as Partial<ChainStatement> | null;
      } catch {
        continue; // not JSON: it verifies as nothing, as checkStatement would say
      }
      if (claim?.type !== 'checkpoint' || claim.tenant !== tenantId) continue;
      if (typeof claim.seq !== 'number' || typeof claim.hash !== 'string') continue;
      const at = this.#claims.get(claim.seq) ?? [];
      at.push({ hash: claim.hash, statement: s.statement, signature: s.signature });
      this.#claims.set(claim.seq, at);
    }
  }

  /** Whether a validly signed checkpoint of this tenant at `seq` names another hash than `hash`. */
  contradicts(seq: number, hash: string): boolean {
    const claims = this.#claims.get(seq);
    if (!claims) return false;
    return claims.some((c) => {
      if (c.hash === hash) return false;
      const check = checkStatement(this.ring, c.statement, c.signature);
      return check.ok && check.statement.type === 'checkpoint' && check.statement.tenant === this.tenantId;
    });
  }
}

/** What is wrong with one walked link, or null: its hash, its place and its link to the one before. */
function linkProblem(
  link: { seq: number; hash: string; canonical: string },
  tenantId: number,
  expected: number | null,
  prev: string | null,
  signed: SignedCheckpoints,
): string | null {
  if (expected !== null && link.seq !== expected) return `event ${expected} is missing from the chain`;
  if (sha256Hex(link.canonical) !== link.hash)
    return `the stored hash of event ${link.seq} does not match its canonical bytes`;
  const doc = chainFields(link.canonical);
  if (!doc) return `the canonical bytes of event ${link.seq} are not a chained event`;
  if (doc.seq !== link.seq || doc.tenant !== tenantId)
    return `event ${link.seq} was hashed as another sequence number or tenant`;
  if (prev !== null && doc.prev !== prev) return `event ${link.seq} does not link to the event before it`;
  if (signed.contradicts(link.seq, link.hash))
    return `the chain does not match the signed checkpoint at ${link.seq}`;
  return null;
}

/**
 * The three fields the walk checks (`seq`, `tenant`, `prev`), from bytes whose hash was just
 * checked. A version 1 document is RFC 8785 JSON, keys sorted, so they are the last occurrences
 * of their keys (only `metadata` and `feature` hold free-form keys, and they sort before them),
 * read without parsing the document: parsing it was the walk's largest cost per event (bench
 * E1). Any other version is parsed. The offline verifier parses every exported event in full.
 */
/** The integer that starts at `from` and runs to the next comma, or null. */
function numberAt(canonical: string, from: number): number | null {
  const text = canonical.slice(from, canonical.indexOf(',', from));
  return /^\d{1,15}$/.test(text) ? Number(text) : null;
}

function chainFields(canonical: string): { seq: unknown; tenant: unknown; prev: unknown } | null {
  if (canonical.endsWith(',"v":1}')) {
    const p = canonical.lastIndexOf('"prev":"');
    const q = canonical.lastIndexOf('"seq":');
    const r = canonical.lastIndexOf('"tenant":');
    if (p < 0 || q < p || r < q || canonical[p + 72] !== '"') return null;
    return {
      prev: canonical.slice(p + 8, p + 72),
      seq: numberAt(canonical, q + 6),
      tenant: numberAt(canonical, r + 9),
    };
  }
  try {
    const doc = JSON.parse(canonical) as { seq?: unknown; tenant?: unknown; prev?: unknown } | null;
    return doc && typeof doc === 'object' ? { seq: doc.seq, tenant: doc.tenant, prev: doc.prev } : null;
  } catch {
    return null;
  }
}

function describeFilter(f: EventFilter): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(f)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
  );
}

function describeRestriction(r: Restriction | undefined): Record<string, unknown> | null {
  return r ? Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) : null;
}

function line(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}
