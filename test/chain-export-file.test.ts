// Offline verification of an exported file, in-process: the file's events must agree with its own
// head record, an export is signed through its end, a failing statement is named by its sequence,
// and a file no signature covers says so in its status.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileReport, verifyExportFile } from '../src/audit/export-file.ts';
import { ChainSigner, type KeyRing } from '../src/audit/signer.ts';
import { operatorViewer } from '../src/audit/viewer.ts';
import { startTestGateway, type TestGateway } from './support/gateway.ts';

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ CHECKPOINT_EVERY_EVENTS: '10' });
});
afterAll(async () => {
  await t?.close();
});

async function exported(tenant: { id: number; slug: string }): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of t.gateway.chain.export(operatorViewer(tenant))) lines.push(line.trimEnd());
  return lines;
}

async function verify(lines: string[], keys: KeyRing = t.gateway.signer.ring): Promise<FileReport> {
  async function* feed() {
    yield* lines;
  }
  return verifyExportFile(feed(), keys);
}

async function tenantWith(n: number, prefix: string) {
  const tenant = await t.newTenant(prefix);
  for (let i = 0; i < n; i += 5) {
    const results = await t.gateway.audit.recordEvents(
      operatorViewer(tenant),
      Array.from({ length: Math.min(5, n - i) }, (_, k) => ({ action: `file-${(i + k) % 3}` })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
  }
  return tenant;
}

const isEvent = (l: string) => l.startsWith('{"type":"event"');
const isHead = (l: string) => l.startsWith('{"type":"head"');
const isStatement = (l: string) => l.startsWith('{"type":"statement"');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('an exported file', () => {
  it('is signed through its last event when exported', async () => {
    const tenant = await tenantWith(23, 'signed-through-end');
    const report = await verify(await exported(tenant));
    expect(report).toMatchObject({ intact: true, status: 'intact', eventsChecked: 23, signedThrough: 23 });
  });

  it('is not intact when its events disagree with its own head record', async () => {
    const tenant = await tenantWith(20, 'head-record');
    const lines = await exported(tenant);
    const events = lines.filter(isEvent).map((l) => JSON.parse(l));
    const last = events.at(-1);
    // The three edits, each with the statements stripped so only the head record is left.
    const unsignedLines = lines.filter((l) => !isStatement(l));

    const cut = unsignedLines.filter((l) => !(isEvent(l) && JSON.parse(l).seq > 17));
    expect((await verify(cut)).break).toMatchObject({ sequence: 18, kind: 'missing' });

    const doc = JSON.parse(last.canonical);
    const forgedDoc = { ...doc, seq: 21, prev: last.hash, action: 'forged.after' };
    const forgedCanonical = canonicalize(forgedDoc) as string;
    const forgedLine = JSON.stringify({
      type: 'event',
      seq: 21,
      hash: sha256(forgedCanonical),
      canonical: forgedCanonical,
    });
    const appended = unsignedLines.flatMap((l) => (isHead(l) ? [forgedLine, l] : [l]));
    expect((await verify(appended)).break).toMatchObject({ sequence: 21, kind: 'inserted' });

    const rewrittenCanonical = canonicalize({ ...doc, action: 'rewritten' }) as string;
    const rewritten = unsignedLines.map((l) =>
      isEvent(l) && JSON.parse(l).seq === 20
        ? JSON.stringify({
            type: 'event',
            seq: 20,
            hash: sha256(rewrittenCanonical),
            canonical: rewrittenCanonical,
          })
        : l,
    );
    expect((await verify(rewritten)).break).toMatchObject({ sequence: 20, kind: 'modified' });

    const headless = lines.filter((l) => !isHead(l));
    expect(await verify(headless)).toMatchObject({
      intact: false,
      status: 'broken',
      break: { kind: 'missing' },
    });
  });

  it('reports a statement whose signature fails at the sequence the statement names', async () => {
    const tenant = await tenantWith(20, 'bad-statement');
    const lines = await exported(tenant);
    const at = lines.findIndex((l) => isStatement(l) && JSON.parse(JSON.parse(l).statement).seq === 15);
    const record = JSON.parse(lines[at] as string);
    lines[at] = JSON.stringify({
      ...record,
      statement: record.statement.replace(/"time":"[^"]+"/, '"time":"2020-01-01T00:00:00.000Z"'),
    });
    const report = await verify(lines);
    expect(report).toMatchObject({ status: 'broken', break: { sequence: 15, kind: 'modified' } });
    expect(report.break?.detail).toMatch(/does not verify/);
  });

  it('with every checkpoint removed and its events rewritten is "unsigned", not "intact"', async () => {
    const tenant = await tenantWith(10, 'unsigned-file');
    const lines = (await exported(tenant)).filter((l) => !isStatement(l));
    let prev = '0'.repeat(64);
    const rewritten = lines.map((l) => {
      if (isEvent(l)) {
        const e = JSON.parse(l);
        const canonical = canonicalize({ ...JSON.parse(e.canonical), prev, action: 'rewritten' }) as string;
        prev = sha256(canonical);
        return JSON.stringify({ ...e, canonical, hash: prev });
      }
      return isHead(l) ? JSON.stringify({ type: 'head', seq: 10, hash: prev }) : l;
    });
    const report = await verify(rewritten);
    expect(report).toMatchObject({ intact: true, status: 'unsigned', signedThrough: null, break: null });
  });

  it('names the public keys its statements need, and a key the verifier lacks is reported as unknown', async () => {
    const tenant = await tenantWith(10, 'file-keys');
    const lines = await exported(tenant);
    const header = JSON.parse(lines[0] as string);
    expect(header.keys.map((k: { kid: string }) => k.kid)).toEqual([t.gateway.signer.keyId]);
    const stranger = ChainSigner.fromConfig(
      (await import('node:crypto'))
        .generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    );
    const report = await verify(lines, stranger.ring);
    expect(report).toMatchObject({
      intact: false,
      status: 'unknown-key',
      unknownKeyIds: [t.gateway.signer.keyId],
      break: null,
      eventsChecked: 10,
    });
  });
});
