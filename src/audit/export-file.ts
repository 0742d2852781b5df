// Offline verification of an exported chain (NDJSON from `audit-gateway export`), with nothing
// but the gateway's public keys: no database, no trust in whoever handed over the file. A
// filtered export says so in its header and is checked by filtered-export-file.ts.
import { FILTERED_EXPORT_FORMAT } from './export-format.ts';
import { verifyFilteredExport } from './filtered-export-file.ts';
import type { KeyRing } from './signer.ts';
import {
  type ChainLink,
  chainStart,
  checkStatements,
  claimedSequence,
  type SignedStatementText,
  unknownKeyIds,
  type VerificationResult,
  type VerificationStatus,
  verdict,
  verifyLinks,
} from './verify.ts';

export type FileReport = VerificationResult & {
  status: VerificationStatus;
  tenant: number | null;
  /** Ids of keys that signed statements in the file but are not among the keys given. */
  unknownKeyIds: string[];
  problems: string[];
};

type Line =
  | { type: 'header'; tenant: number; keyIds: string[]; format: unknown }
  | { type: 'statement'; statement: string; signature: string }
  | { type: 'event'; seq: number; hash: string; canonical: string }
  | { type: 'head'; seq: number; hash: string | null };

/**
 * Reads the file's header and statements, then streams its events through the verifier and
 * checks them against the file's own head record. The statements must come before the events
 * (the export writes them so), since the newest signed anchor says where the chain starts. The
 * head record is unsigned and proves nothing alone, but a file whose events disagree with it is
 * not intact; the export signs a checkpoint of its last event, so an untouched export is signed
 * through its end.
 */
export async function verifyExportFile(
  lines: AsyncIterable<string>,
  keys: KeyRing,
  external?: SignedStatementText,
): Promise<FileReport> {
  const iterator = lines[Symbol.asyncIterator]();
  const statements: SignedStatementText[] = [];
  let tenant: number | null = null;
  let keysNamedByFile: string[] = [];
  let firstEvent: Line | null = null;
  let lineNo = 0;
  const fail = (detail: string, sequence = 0): FileReport => ({
    intact: false,
    status: 'broken',
    from: null,
    to: null,
    eventsChecked: 0,
    checkpointsChecked: 0,
    signedThrough: null,
    break: { sequence, kind: 'modified', detail },
    tenant,
    unknownKeyIds: [],
    problems: [detail],
  });
  for (;;) {
    const r = await iterator.next();
    if (r.done) break;
    lineNo += 1;
    if (r.value.trim() === '') continue;
    const line = parseLine(r.value);
    if (!line) return fail(`line ${lineNo} is not a chain export record`);
    if (line.type === 'header') {
      // A filtered export (a subset of the chain) is checked by its own rules.
      if (line.format === FILTERED_EXPORT_FORMAT)
        return verifyFilteredExport(iterator, line.tenant, keys, external);
      tenant = line.tenant;
      keysNamedByFile = line.keyIds;
    } else if (line.type === 'statement')
      statements.push({ statement: line.statement, signature: line.signature });
    else {
      firstEvent = line;
      break;
    }
  }
  if (tenant === null) return fail('the file has no header naming the tenant');
  if (external) statements.push(external);
  const sorted = checkStatements(keys, tenant, statements);
  const bad = sorted.invalid[0];
  if (bad)
    return fail(
      `a signed statement in the file does not verify: ${bad.reason}`,
      claimedSequence(bad.statement),
    );
  const unknown = unknownKeyIds(sorted);
  // A statement whose key was not given cannot be checked; its anchor still says where the
  // chain starts, so the rest is checked, and the verdict says what could not be.
  const start = chainStart([...sorted.valid, ...sorted.unknown.map((u) => u.claimed)]);
  const checkpoints = sorted.valid.filter((s) => s.type === 'checkpoint');

  // Filled in while the events stream by.
  const tail: { head: { seq: number; hash: string | null } | null; eventsAfterHead: boolean } = {
    head: null,
    eventsAfterHead: false,
  };
  async function* events(): AsyncGenerator<ChainLink> {
    let line: Line | null = firstEvent;
    while (line) {
      if (line.type === 'event') {
        if (tail.head) tail.eventsAfterHead = true;
        yield { seq: line.seq, hash: line.hash, canonical: line.canonical };
      } else if (line.type === 'head') tail.head = { seq: line.seq, hash: line.hash };
      let text: string;
      do {
        const r = await iterator.next();
        if (r.done) return;
        lineNo += 1;
        text = r.value;
      } while (text.trim() === '');
      line = parseLine(text);
      if (!line) throw new Error(`line ${lineNo} is not a chain export record`);
    }
  }

  try {
    const result = await verifyLinks(events(), {
      tenantId: tenant,
      start,
      checkpoints,
      // Read once the events are: the head record is the file's last line.
      end: () =>
        tail.head
          ? { seq: tail.head.seq, hash: tail.head.hash ?? undefined, source: "file's head record" }
          : undefined,
    });
    const problems: string[] = [];
    if (result.intact && !tail.head) {
      const report = fail(
        'the file has no head record: it was cut short, or its end was removed',
        result.to ?? 0,
      );
      return { ...report, break: { ...(report.break as NonNullable<FileReport['break']>), kind: 'missing' } };
    }
    if (result.intact && tail.eventsAfterHead) {
      return fail('events follow the head record', (tail.head?.seq ?? 0) + 1);
    }
    for (const kid of unknown) {
      problems.push(
        keysNamedByFile.includes(kid)
          ? `statements are signed by key ${kid}, which was not given; the file names it, but only a key from the gateway's /.well-known/audit-signing-keys.json vouches for them`
          : `statements are signed by an unknown key ${kid}`,
      );
    }
    const status = verdict(result, unknown);
    return {
      ...result,
      intact: status === 'intact' || status === 'unsigned',
      status,
      tenant,
      unknownKeyIds: unknown,
      problems,
    };
  } catch (error) {
    return fail((error as Error).message);
  }
}

function parseLine(text: string): Line | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    switch (v.type) {
      case 'header':
        return typeof v.tenant === 'number'
          ? {
              type: 'header',
              tenant: v.tenant,
              format: v.format,
              keyIds: Array.isArray(v.keys)
                ? v.keys.flatMap((k) => (typeof k?.kid === 'string' ? [k.kid as string] : []))
                : [],
            }
          : null;
      case 'statement':
        return typeof v.statement === 'string' && typeof v.signature === 'string'
          ? { type: 'statement', statement: v.statement, signature: v.signature }
          : null;
      case 'event':
        return typeof v.seq === 'number' && typeof v.hash === 'string' && typeof v.canonical === 'string'
          ? { type: 'event', seq: v.seq, hash: v.hash, canonical: v.canonical }
          : null;
      case 'head':
        return typeof v.seq === 'number'
          ? { type: 'head', seq: v.seq, hash: typeof v.hash === 'string' ? v.hash : null }
          : null;
      default:
        return null;
    }
  } catch {
    return null;
  }
}
