// What a filtered export looks like on the wire, shared by the export (export-service.ts) and
// the offline verifier (export-file.ts): the CSV columns and cell rules, the NDJSON records, and
// the digest the signed export statement carries.
import { createHash, type Hash } from 'node:crypto';
import type { AuditEvent } from './model.ts';

export const EXPORT_FORMATS = ['csv', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The `format` of a filtered NDJSON export's header (a whole-chain export says `audit-gateway-chain`). */
export const FILTERED_EXPORT_FORMAT = 'audit-gateway-events';

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/**
 * The CSV columns, in order: nested fields flattened (`actor.id` → `actorId`), JSON objects as
 * JSON text in one cell, absent values as empty cells, times in RFC 3339 UTC. `cursor` resumes
 * the export after that row (`after=<cursor>`). docs/analysts.md#exports lists them.
 */
export const CSV_COLUMNS: readonly { name: string; value: (e: AuditEvent) => string | number | null }[] = [
  { name: 'sequence', value: (e) => e.sequence },
  { name: 'id', value: (e) => e.id },
  { name: 'occurredAt', value: (e) => e.occurredAt.toISOString() },
  { name: 'receivedAt', value: (e) => e.receivedAt.toISOString() },
  { name: 'sentAt', value: (e) => e.sentAt?.toISOString() ?? null },
  { name: 'action', value: (e) => e.action },
  { name: 'name', value: (e) => e.name },
  { name: 'title', value: (e) => e.title },
  { name: 'description', value: (e) => e.description },
  { name: 'actorId', value: (e) => e.actor?.id ?? null },
  { name: 'actorType', value: (e) => e.actor?.type ?? null },
  { name: 'actorName', value: (e) => e.actor?.name ?? null },
  { name: 'actorEmail', value: (e) => e.actor?.email ?? null },
  { name: 'actorCompany', value: (e) => e.actor?.company ?? null },
  { name: 'targetKind', value: (e) => e.target?.kind ?? null },
  { name: 'targetId', value: (e) => e.target?.id ?? null },
  { name: 'targetName', value: (e) => e.target?.name ?? null },
  { name: 'targetEmail', value: (e) => e.target?.email ?? null },
  { name: 'targetCompany', value: (e) => e.target?.company ?? null },
  { name: 'groupId', value: (e) => e.groupId },
  { name: 'additionalId', value: (e) => e.additionalId },
  { name: 'ipAddress', value: (e) => e.ipAddress },
  { name: 'featureName', value: (e) => e.feature?.name ?? null },
  { name: 'featureMetas', value: (e) => json(e.feature?.metas) },
  { name: 'metadata', value: (e) => json(e.metadata) },
  { name: 'hash', value: (e) => e.hash },
];

/** The UTF-8 byte order mark Excel needs to read a CSV file as UTF-8 (`bom=true`). */
export const BOM = '\uFEFF';

// OWASP's CSV-injection rule: a text cell that begins with = + - @, tab or CR (or the full-width
// ＝＋－＠ some spreadsheets fold to them) gets a leading ' so a spreadsheet shows it as text.
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One RFC 4180 cell: quoted when it holds a quote, comma or line break, its quotes doubled.
 * Written here rather than with a CSV library: this is the whole rule, and the export's
 * throughput target (bench E1) left no room for a general-purpose stringifier's per-cell work.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvHeader(): string {
  return `${[...CSV_COLUMNS.map((c) => c.name), 'cursor'].join(',')}\r\n`;
}

/** The rows of a batch, each ended by CRLF. */
export function csvRows(rows: { event: AuditEvent; cursor: string }[]): string {
  let out = '';
  for (const { event, cursor } of rows) {
    for (const column of CSV_COLUMNS) out += `${csvCell(column.value(event))},`;
    out += `${csvCell(cursor)}\r\n`;
  }
  return out;
}

/**
 * What the gateway signs at the end of an NDJSON export: the events it exported, as a running
 * SHA-256 over `seq:hash\n` of each in order, their count, and the chain position (`seq`,
 * `hash`) they were checked against. `filter` and `restriction` say what was asked, as given.
 */
export type ExportStatement = {
  v: 1;
  type: 'export';
  tenant: number;
  /** The signed checkpoint every exported event was walked to. */
  seq: number;
  hash: string;
  /** Resumed after this sequence number (0 for a fresh export). */
  afterSeq: number;
  count: number;
  digest: string;
  filter: Record<string, unknown>;
  restriction: Record<string, unknown> | null;
  time: string;
  kid: string;
};

/** The running digest of an export's events, as the statement states it. */
export class ExportDigest {
  readonly #hash: Hash = createHash('sha256');
  // Fed to the hash some 700 entries at a time: the same bytes, without a call into it per event.
  #pending = '';
  count = 0;

  add(seq: number, hash: string): void {
    this.#pending += `${seq}:${hash}\n`;
    this.count += 1;
    if (this.#pending.length >= 65_536) this.#flush();
  }

  hex(): string {
    this.#flush();
    return this.#hash.digest('hex');
  }

  #flush(): void {
    this.#hash.update(this.#pending);
    this.#pending = '';
  }
}

/**
 * One exported event as an NDJSON line. `event` is the canonical document exactly as hashed (its
 * RFC 8785 text pasted in, never re-serialized), so `sha256(canonicalize(event)) === hash`.
 */
export function ndjsonEventLine(seq: number, hash: string, canonical: string, cursor: string): string {
  return `{"type":"event","seq":${seq},"hash":"${hash}","cursor":${JSON.stringify(cursor)},"event":${canonical}}\n`;
}
