// Offline verification of a filtered NDJSON export (GET /v1/exports/events.ndjson, `audit-gateway
// export --format ndjson`) with nothing but the gateway's public keys. Streams the file once in
// constant memory. What it establishes is in docs/tamper-evidence.md#filtered-exports.
import canonicalize from 'canonicalize';
import { sha256Hex } from './chain.ts';
import type { FileReport } from './export-file.ts';
import { ExportDigest, type ExportStatement } from './export-format.ts';
import { checkStatement, type KeyRing } from './signer.ts';
import type { SignedStatementText, VerificationResult } from './verify.ts';

type Break = NonNullable<VerificationResult['break']>;

/**
 * Checks, line by line: each event hashes to the hash it carries and names its own sequence number
 * and the tenant; sequence numbers rise; where two exported events are neighbours in the chain the
 * later one links to the earlier. At the end: the checkpoint and the export statement verify with
 * the keys given, agree on the chain position, and the statement's count and digest match the
 * events in the file, so an event changed, removed, added or reordered anywhere in it is caught.
 */
export async function verifyFilteredExport(
  lines: AsyncIterator<string>,
  tenant: number,
  keys: KeyRing,
  external?: SignedStatementText,
): Promise<FileReport> {
  const digest = new ExportDigest();
  let first: number | null = null;
  let last: { seq: number; hash: string } | null = null;
  let checkpoint: { seq: number; hash: string } | null = null;
  let exported: ExportStatement | null = null;
  let unknownKey: string | null = null;
  let lineNo = 1;
  const report = (brk: Break | null, extra: Partial<FileReport> = {}): FileReport => ({
    intact: brk === null,
    status: brk === null ? 'intact' : 'broken',
    from: first,
    to: last?.seq ?? null,
    eventsChecked: digest.count,
    checkpointsChecked: checkpoint ? 1 : 0,
    signedThrough: brk === null && checkpoint ? checkpoint.seq : null,
    break: brk,
    tenant,
    unknownKeyIds: unknownKey ? [unknownKey] : [],
    problems: brk ? [brk.detail] : [],
    ...extra,
  });
  const broken = (sequence: number, kind: Break['kind'], detail: string) =>
    report({ sequence, kind, detail });

  for (;;) {
    const r = await lines.next();
    if (r.done) break;
    lineNo += 1;
    if (r.value.trim() === '') continue;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(r.value) as Record<string, unknown>;
    } catch {
      return broken(last?.seq ?? 0, 'modified', `line ${lineNo} is not JSON`);
    }
    if (exported) return broken(last?.seq ?? 0, 'inserted', `line ${lineNo} follows the export statement`);
    if (v.type === 'event') {
      const { seq, hash, event } = v as { seq: unknown; hash: unknown; event: unknown };
      if (typeof seq !== 'number' || typeof hash !== 'string' || typeof event !== 'object' || event === null)
        return broken(last?.seq ?? 0, 'modified', `line ${lineNo} is not an export record`);
      if (checkpoint) return broken(seq, 'inserted', `event ${seq} follows the checkpoint`);
      const doc = event as { seq?: unknown; tenant?: unknown; prev?: unknown };
      if (sha256Hex(canonicalize(event) ?? '') !== hash)
        return broken(seq, 'modified', `event ${seq} does not hash to the hash it carries`);
      if (doc.seq !== seq || doc.tenant !== tenant)
        return broken(seq, 'modified', `event ${seq} was hashed as another sequence number or tenant`);
      if (last && seq <= last.seq)
        return broken(seq, 'reordered', `event ${seq} comes after event ${last.seq}`);
      if (last && seq === last.seq + 1 && doc.prev !== last.hash)
        return broken(seq, 'modified', `event ${seq} does not link to event ${last.seq} before it`);
      first ??= seq;
      last = { seq, hash };
      digest.add(seq, hash);
    } else if (v.type === 'statement' || v.type === 'export') {
      const { statement, signature } = v as { statement: unknown; signature: unknown };
      if (typeof statement !== 'string' || typeof signature !== 'string')
        return broken(last?.seq ?? 0, 'modified', `line ${lineNo} is not a signed statement`);
      const check = checkStatement(keys, statement, signature);
      const said = (check.ok ? check.statement : check.claimed) as unknown as ExportStatement | null;
      if (!check.ok && check.unknownKey === null)
        return broken(said?.seq ?? 0, 'modified', `a signed statement does not verify: ${check.reason}`);
      if (!check.ok) unknownKey = check.unknownKey;
      if (!said || said.tenant !== tenant)
        return broken(said?.seq ?? 0, 'modified', 'a signed statement is about another tenant');
      if (v.type === 'statement') {
        if (said.type !== ('checkpoint' as string))
          return broken(
            said.seq,
            'modified',
            'the statement before the export statement is not a checkpoint',
          );
        checkpoint = { seq: said.seq, hash: said.hash };
      } else {
        if (said.type !== 'export')
          return broken(said.seq, 'modified', 'the last statement is not an export statement');
        exported = said;
      }
    } else if (v.type === 'error') {
      return broken(
        typeof v.seq === 'number' ? v.seq : 0,
        'modified',
        `the gateway stopped the export: ${String(v.detail)}`,
      );
    } else if (v.type !== 'header') {
      return broken(last?.seq ?? 0, 'modified', `line ${lineNo} is not an export record`);
    }
  }

  if (!exported)
    return broken(
      last?.seq ?? 0,
      'missing',
      'the export has no signed export statement: it was cut short, or its end was removed',
    );
  if (digest.count !== exported.count)
    return broken(
      last?.seq ?? 0,
      digest.count < exported.count ? 'missing' : 'inserted',
      `the export statement covers ${exported.count} events, the file holds ${digest.count}`,
    );
  if (digest.hex() !== exported.digest)
    return broken(
      first ?? 0,
      'modified',
      'the exported events differ from those the gateway signed (an event was changed, replaced or reordered)',
    );
  if (last && last.seq > exported.seq)
    return broken(last.seq, 'inserted', `event ${last.seq} lies beyond the checkpoint at ${exported.seq}`);
  if (exported.seq > 0) {
    if (!checkpoint) return broken(exported.seq, 'missing', 'the checkpoint the export stops at was removed');
    if (checkpoint.seq !== exported.seq || checkpoint.hash !== exported.hash)
      return broken(
        exported.seq,
        'modified',
        'the checkpoint and the export statement name different chain positions',
      );
  }
  const problems: string[] = [];
  if (external) {
    const check = checkStatement(keys, external.statement, external.signature);
    if (!check.ok) return broken(0, 'modified', `the checkpoint you gave does not verify: ${check.reason}`);
    if (check.statement.seq === exported.seq && check.statement.hash !== exported.hash)
      return broken(
        exported.seq,
        'modified',
        'the checkpoint you gave differs from the one the export stops at',
      );
    if (check.statement.seq !== exported.seq)
      problems.push(
        `the checkpoint you gave is at sequence ${check.statement.seq}; a filtered export can only be compared with one at its own end (${exported.seq})`,
      );
  }
  if (unknownKey) {
    return report(null, {
      intact: false,
      status: 'unknown-key',
      signedThrough: null,
      problems: [`statements are signed by key ${unknownKey}, which was not given`, ...problems],
    });
  }
  return report(null, { problems });
}
