// Offline verification of an exported chain (NDJSON from `audit-gateway export`), with nothing
// but the gateway's public key: no database, no trust in whoever handed over the file.
import type { KeyObject } from 'node:crypto';
import {
  type ChainLink,
  chainStart,
  checkStatements,
  type SignedStatementText,
  type VerificationResult,
  verifyLinks,
} from './verify.ts';

export type FileReport = VerificationResult & {
  tenant: number | null;
  /** Newest sequence number vouched for by a valid signed checkpoint; later events are covered by no signature. */
  signedThrough: number | null;
  problems: string[];
};

type Line =
  | { type: 'header'; tenant: number }
  | { type: 'statement'; statement: string; signature: string }
  | { type: 'event'; seq: number; hash: string; canonical: string }
  | { type: 'head'; seq: number; hash: string | null };

/**
 * Reads the file's header and statements, then streams its events through the verifier. The
 * statements must come before the events (the export writes them so), since the newest signed
 * anchor says where the chain starts.
 */
export async function verifyExportFile(
  lines: AsyncIterable<string>,
  publicKey: KeyObject,
  external?: SignedStatementText,
): Promise<FileReport> {
  const iterator = lines[Symbol.asyncIterator]();
  const statements: SignedStatementText[] = [];
  let tenant: number | null = null;
  let firstEvent: Line | null = null;
  let lineNo = 0;
  const fail = (detail: string): FileReport => ({
    intact: false,
    from: null,
    to: null,
    eventsChecked: 0,
    checkpointsChecked: 0,
    break: { sequence: 0, kind: 'modified', detail },
    tenant,
    signedThrough: null,
    problems: [detail],
  });
  for (;;) {
    const r = await iterator.next();
    if (r.done) break;
    lineNo += 1;
    if (r.value.trim() === '') continue;
    const line = parseLine(r.value);
    if (!line) return fail(`line ${lineNo} is not a chain export record`);
    if (line.type === 'header') tenant = line.tenant;
    else if (line.type === 'statement')
      statements.push({ statement: line.statement, signature: line.signature });
    else {
      firstEvent = line;
      break;
    }
  }
  if (tenant === null) return fail('the file has no header naming the tenant');
  if (external) statements.push(external);
  const { valid, invalid } = checkStatements(publicKey, tenant, statements);
  if (invalid[0]) return fail(`a signed statement in the file does not verify: ${invalid[0].reason}`);
  const start = chainStart(valid);
  const checkpoints = valid.filter((s) => s.type === 'checkpoint');

  async function* events(): AsyncGenerator<ChainLink> {
    let line: Line | null = firstEvent;
    while (line) {
      if (line.type === 'event') yield { seq: line.seq, hash: line.hash, canonical: line.canonical };
      const r = await iterator.next();
      if (r.done) return;
      lineNo += 1;
      line = r.value.trim() === '' ? ({ type: 'head', seq: 0, hash: null } as Line) : parseLine(r.value);
      if (!line) throw new Error(`line ${lineNo} is not a chain export record`);
    }
  }

  try {
    const result = await verifyLinks(events(), { tenantId: tenant, start, checkpoints });
    const signed = checkpoints.filter((c) => c.seq <= (result.to ?? 0)).map((c) => c.seq);
    return {
      ...result,
      tenant,
      signedThrough: result.intact && signed.length ? Math.max(...signed) : null,
      problems: [],
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
        return typeof v.tenant === 'number' ? { type: 'header', tenant: v.tenant } : null;
      case 'statement':
        return typeof v.statement === 'string' && typeof v.signature === 'string'
          ? { type: 'statement', statement: v.statement, signature: v.signature }
          : null;
      case 'event':
        return typeof v.seq === 'number' && typeof v.hash === 'string' && typeof v.canonical === 'string'
          ? { type: 'event', seq: v.seq, hash: v.hash, canonical: v.canonical }
          : null;
      case 'head':
        return { type: 'head', seq: Number(v.seq), hash: typeof v.hash === 'string' ? v.hash : null };
      default:
        return null;
    }
  } catch {
    return null;
  }
}
