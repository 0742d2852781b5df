// Who read the trail: every read of a tenant's events (a page, a count, a lookup, a stream, a
// verification) leaves a record of who asked, through which surface, with which filter, from
// where and how many events it got. The services call `record` after a read has its answer; the
// record waits in a bounded in-memory queue and is written in batches, so a read never waits on
// its own record and a slow or failing write never fails a read (what is lost is counted in
// agw_read_log_records_total and logged).
import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../db/client.ts';
import { ValidationError } from '../errors.ts';
import { recordReadLog } from '../metrics.ts';
import { BOM, csvCell, type ExportFormat } from './export-format.ts';
import { listValueProblem } from './filters.ts';
import { isUuid } from './model.ts';
import {
  insertReads,
  listReads,
  type NewRead,
  type ReadFilter,
  type ReadPosition,
  type StoredRead,
} from './repository/read-log.ts';
import type { TokenSigner } from './tokens.ts';
import { requireScope, requireWholeTenant, type Viewer } from './viewer.ts';

export type { ReadFilter, StoredRead } from './repository/read-log.ts';

/** What a read was: a page or stream of events, a live tail, a count, lookups by id, the filter
 * catalog, a verification, the checkpoints or an export of the chain, or the read log itself. */
export const READ_KINDS = [
  'events',
  'tail',
  'count',
  'lookup',
  'catalog',
  'verify',
  'checkpoints',
  'chain_export',
  'reads',
] as const;
export type ReadKind = (typeof READ_KINDS)[number];

/** The surfaces a read can come through (ReadOrigin.surface). */
export const READ_SURFACES = [
  'graphql',
  'madkudu',
  'mural',
  'wasabi',
  'replicated',
  'export',
  'rest',
] as const;

export type ReadLogOptions = {
  db: Db;
  tokens: TokenSigner;
  logger: Logger;
  /** Write what is queued at least this often. */
  flushMs: number;
  /** Write as soon as this many records wait, and at most this many per statement. */
  batchSize: number;
  /** Records beyond this many waiting are dropped (counted and logged), never waited for. */
  queueLimit: number;
};

export type ReadConnection = {
  edges: { cursor: string; node: StoredRead }[];
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
};

const MAX_PAGE = 500;
/** Records an export reads per statement. */
const EXPORT_BATCH = 1000;

/** The columns of a read-log export, as GraphQL's AuditRead names them (enum values upper case). */
const EXPORT_COLUMNS: readonly { name: string; value: (r: StoredRead) => string | number | null }[] = [
  { name: 'at', value: (r) => r.at.toISOString() },
  { name: 'id', value: (r) => r.id },
  { name: 'keyId', value: (r) => r.keyId },
  { name: 'viewerTokenId', value: (r) => r.tokenId },
  { name: 'restriction', value: (r) => (r.restriction == null ? null : JSON.stringify(r.restriction)) },
  { name: 'surface', value: (r) => r.surface.toUpperCase() },
  { name: 'operation', value: (r) => r.operation },
  { name: 'kind', value: (r) => r.kind.toUpperCase() },
  { name: 'filter', value: (r) => JSON.stringify(r.filter) },
  { name: 'clientAddress', value: (r) => r.clientAddress },
  { name: 'requestId', value: (r) => r.requestId },
  { name: 'events', value: (r) => r.events },
];
/** The most values one read-log filter list may hold. */
export const MAX_READ_FILTER_VALUES = 100;

export class ReadLog {
  readonly #opts: ReadLogOptions;
  #queue: NewRead[] = [];
  #writing: Promise<void> = Promise.resolve();
  #pendingWrite = false;
  #timer: NodeJS.Timeout | undefined;
  #droppedSinceWarning = 0;
  #lastWarning = 0;

  constructor(opts: ReadLogOptions) {
    this.#opts = opts;
    this.#timer = setInterval(() => {
      if (this.#queue.length > 0) void this.flush();
    }, opts.flushMs);
    this.#timer.unref();
  }

  /**
   * Queues the record of one read; returns at once and never throws. Viewers without an origin
   * (the operator at the command line) and tenants whose switch is off leave none.
   */
  record(viewer: Viewer, kind: ReadKind, filter: object, events: number): void {
    const origin = viewer.origin;
    if (!origin || viewer.recordReads === false) return;
    if (this.#queue.length >= this.#opts.queueLimit) {
      this.#dropped(1, 'dropped_queue_full');
      return;
    }
    this.#queue.push({
      tenantId: viewer.tenantId,
      at: new Date(),
      id: uuidv7(),
      keyId: viewer.keyId,
      tokenId: viewer.token?.id ?? null,
      restriction: viewer.restriction ? { ...viewer.restriction } : null,
      surface: origin.surface,
      operation: origin.operation,
      kind,
      filter: { ...filter },
      clientAddress: origin.clientAddress,
      requestId: origin.requestId,
      events,
    });
    if (this.#queue.length >= this.#opts.batchSize) void this.flush();
  }

  /** Writes every record queued so far; resolves when they are stored (or counted as lost). */
  flush(): Promise<void> {
    if (this.#pendingWrite) return this.#writing;
    this.#pendingWrite = true;
    this.#writing = this.#writing.then(async () => {
      this.#pendingWrite = false;
      while (this.#queue.length > 0) await this.#writeBatch(this.#queue.splice(0, this.#opts.batchSize));
    });
    return this.#writing;
  }

  /** Stops the timer and writes what is queued (graceful shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  /** A page of the tenant's read log, newest first. Needs `read_log` and the whole tenant. */
  async list(
    viewer: Viewer,
    filterIn: ReadFilter,
    args: { first?: number | null | undefined; after?: string | null | undefined },
  ): Promise<ReadConnection> {
    requireScope(viewer, 'read_log');
    requireWholeTenant(viewer, 'The read log');
    const filter = validateReadFilter(filterIn);
    const first = args.first ?? 50;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) {
      throw new ValidationError('first', `must be between 0 and ${MAX_PAGE}`);
    }
    const after = args.after != null ? this.#decodeCursor(viewer.tenantId, args.after) : undefined;
    const rows = await listReads(this.#opts.db, viewer.tenantId, { filter, after, limit: first + 1 });
    const page = rows.slice(0, first);
    this.record(viewer, 'reads', filter, 0);
    const edges = page.map((node) => ({ cursor: this.#cursorOf(viewer.tenantId, node), node }));
    return {
      edges,
      pageInfo: {
        hasNextPage: rows.length > first,
        hasPreviousPage: after !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  /**
   * The tenant's read log (or the part the filter picks) as CSV or NDJSON, newest first like
   * `auditReads`, streamed in batches; each row carries the cursor to resume after it. Needs
   * `read_log` and the whole tenant; checked before the first line. Recorded once, when it ends.
   */
  export(
    viewer: Viewer,
    filterIn: ReadFilter,
    request: { format: ExportFormat; after?: string | undefined; bom?: boolean | undefined },
  ): AsyncGenerator<string> {
    requireScope(viewer, 'read_log');
    requireWholeTenant(viewer, 'The read log');
    const filter = validateReadFilter(filterIn);
    const after =
      request.after !== undefined ? this.#decodeCursor(viewer.tenantId, request.after) : undefined;
    return this.#export(viewer, filter, request.format, after, request.bom ?? false);
  }

  async *#export(
    viewer: Viewer,
    filter: ReadFilter,
    format: ExportFormat,
    start: ReadPosition | undefined,
    bom: boolean,
  ): AsyncGenerator<string> {
    try {
      if (format === 'csv')
        yield `${bom ? BOM : ''}${[...EXPORT_COLUMNS.map((c) => c.name), 'cursor'].join(',')}\r\n`;
      let after = start;
      for (;;) {
        const rows = await listReads(this.#opts.db, viewer.tenantId, { filter, after, limit: EXPORT_BATCH });
        let out = '';
        for (const r of rows) {
          const cursor = this.#cursorOf(viewer.tenantId, r);
          if (format === 'csv') {
            for (const column of EXPORT_COLUMNS) out += `${csvCell(column.value(r))},`;
            out += `${csvCell(cursor)}\r\n`;
          } else {
            const { tenantId: _, tokenId, ...rest } = r;
            out += `${JSON.stringify({
              ...rest,
              viewerTokenId: tokenId,
              surface: r.surface.toUpperCase(),
              kind: r.kind.toUpperCase(),
              cursor,
            })}\n`;
          }
        }
        if (out) yield out;
        const last = rows.at(-1);
        if (!last || rows.length < EXPORT_BATCH) return;
        after = { at: last.at, id: last.id };
      }
    } finally {
      this.record(viewer, 'reads', { ...filter, format, ...(start ? { after: start } : {}) }, 0);
    }
  }

  #cursorOf(tenantId: number, r: StoredRead): string {
    return this.#opts.tokens.sign('read-cursor', tenantId, { t: r.at.getTime(), i: r.id });
  }

  #decodeCursor(tenantId: number, cursor: string): ReadPosition {
    const p = this.#opts.tokens.verify('read-cursor', tenantId, cursor) as {
      t?: unknown;
      i?: unknown;
    } | null;
    if (!p || typeof p !== 'object' || typeof p.t !== 'number' || typeof p.i !== 'string' || !isUuid(p.i)) {
      throw new ValidationError('after', 'is not a valid cursor of the read log');
    }
    return { at: new Date(p.t), id: p.i };
  }

  async #writeBatch(batch: NewRead[]): Promise<void> {
    const byTenant = new Map<number, NewRead[]>();
    for (const r of batch) {
      const rows = byTenant.get(r.tenantId) ?? [];
      rows.push(r);
      byTenant.set(r.tenantId, rows);
    }
    for (const [tenantId, rows] of byTenant) {
      try {
        await insertReads(this.#opts.db, tenantId, rows);
        recordReadLog('written', rows.length);
      } catch (error) {
        this.#opts.logger.error(
          { err: error, tenantId, records: rows.length },
          'read log: a batch failed to write',
        );
        recordReadLog('dropped_write_failed', rows.length);
      }
    }
  }

  #dropped(n: number, outcome: 'dropped_queue_full'): void {
    recordReadLog(outcome, n);
    this.#droppedSinceWarning += n;
    const now = Date.now();
    // One warning a second at most: a flood of reads must not become a flood of log lines.
    if (now - this.#lastWarning < 1000) return;
    this.#opts.logger.warn(
      { dropped: this.#droppedSinceWarning, queueLimit: this.#opts.queueLimit },
      'read log: queue full, records dropped',
    );
    this.#droppedSinceWarning = 0;
    this.#lastWarning = now;
  }
}

function validateReadFilter(f: ReadFilter): ReadFilter {
  const lists = { keyIds: f.keyIds, surfaces: f.surfaces, kinds: f.kinds };
  for (const [name, values] of Object.entries(lists)) {
    if (values && values.length > MAX_READ_FILTER_VALUES) {
      throw new ValidationError(`filter.${name}`, `must list at most ${MAX_READ_FILTER_VALUES} values`);
    }
    // The event filters' check: a NUL, say, cannot be sent to the database at all.
    for (const v of values ?? []) {
      const problem = listValueProblem(v);
      if (problem) throw new ValidationError(`filter.${name}`, problem);
    }
  }
  if (f.since && f.until && f.since.getTime() > f.until.getTime()) {
    throw new ValidationError('filter.until', 'must not be before since');
  }
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== null));
}
