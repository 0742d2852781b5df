// The auditor's path: export a tenant's chain with the CLI, then verify the file offline with
// only the gateway's public key, and see edits, removals and truncations caught.
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dbKind, testSecrets } from './support/gateway.ts';

const run = promisify(execFile);
const bin = path.resolve('src/bin.mjs');

let dir: string;
let env: Record<string, string>;
let dropDatabase: (() => Promise<void>) | undefined;
let publicKeyFile: string;

async function cli(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env, LOG_LEVEL: 'warn', NODE_ENV: 'development', ...extraEnv },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Verifies a file with no database reachable at all. */
function offline(args: string[]) {
  return cli(['verify', '--public-key', publicKeyFile, '--json', ...args], {
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/unreachable',
    DATA_DIR: path.join(dir, 'does-not-exist'),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'agw-export-'));
  const secrets = testSecrets();
  if (dbKind === 'postgres') {
    const db = await createTestDatabase();
    dropDatabase = db.drop;
    env = { DATABASE_URL: db.url, ...secrets };
  } else {
    env = { DATA_DIR: path.join(dir, 'data'), ...secrets };
  }
  publicKeyFile = path.join(dir, 'public.pem');
  writeFileSync(publicKeyFile, createPublicKey(secrets.SIGNING_KEY).export({ format: 'pem', type: 'spki' }));
  expect((await cli(['tenants', 'create', 'acme'])).code).toBe(0);
  expect((await cli(['seed', '--tenant', 'acme', '--events', '300'])).code).toBe(0);
});

afterAll(async () => {
  await dropDatabase?.();
  rmSync(dir, { recursive: true, force: true });
});

// Each CLI call starts a Node process; on a loaded two-core machine that takes seconds.
describe('offline verification of an exported chain', { timeout: 240_000 }, () => {
  it('verifies an untouched export with only the public key, and catches edits, removals and truncation', async () => {
    const kept = await cli(['checkpoint', '--tenant', 'acme']);
    expect(kept.code).toBe(0);
    const checkpointFile = path.join(dir, 'kept-checkpoint.json');
    writeFileSync(checkpointFile, kept.stdout);
    expect(JSON.parse(JSON.parse(kept.stdout).statement)).toMatchObject({ type: 'checkpoint', seq: 300 });

    const file = path.join(dir, 'acme.ndjson');
    expect((await cli(['export', '--tenant', 'acme', '--out', file])).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      type: 'header',
      format: 'audit-gateway-chain',
      slug: 'acme',
    });
    expect(lines.filter((l) => l.includes('"type":"event"'))).toHaveLength(300);

    const ok = await offline(['--file', file]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      intact: true,
      status: 'intact',
      eventsChecked: 300,
      signedThrough: 300,
    });

    const variant = (name: string, edit: (ls: string[]) => string[]) => {
      const p = path.join(dir, name);
      writeFileSync(p, `${edit([...lines]).join('\n')}\n`);
      return p;
    };
    const eventLine = (seq: number) => lines.findIndex((l) => l.startsWith(`{"type":"event","seq":${seq},`));

    const edited = variant('edited.ndjson', (ls) => {
      const i = eventLine(123);
      ls[i] = (ls[i] as string).replace(/\\"action\\":\\"[^\\]+\\"/, '\\"action\\":\\"something-else\\"');
      return ls;
    });
    const editedResult = await offline(['--file', edited]);
    expect(editedResult.code).toBe(1);
    expect(JSON.parse(editedResult.stdout).break).toMatchObject({ sequence: 123, kind: 'modified' });

    const removed = variant('removed.ndjson', (ls) => ls.filter((_, i) => i !== eventLine(200)));
    expect(JSON.parse((await offline(['--file', removed])).stdout).break).toMatchObject({
      sequence: 200,
      kind: 'missing',
    });

    // Truncated, with the signed statements stripped and the head record rewritten to match: the
    // file alone cannot tell, but it says that no signature covers it, with an exit status of its own...
    const truncated = variant('truncated.ndjson', (ls) => {
      const lastKept = JSON.parse(ls[eventLine(250)] as string);
      return ls.flatMap((l, i) => {
        if (l.includes('"type":"statement"')) return [];
        if (l.includes('"type":"head"'))
          return [JSON.stringify({ type: 'head', seq: 250, hash: lastKept.hash })];
        return i <= eventLine(250) || !l.includes('"type":"event"') ? [l] : [];
      });
    });
    const alone = await offline(['--file', truncated]);
    expect(alone.code).toBe(3);
    expect(JSON.parse(alone.stdout)).toMatchObject({
      intact: true,
      status: 'unsigned',
      eventsChecked: 250,
      signedThrough: null,
    });
    // ...and the checkpoint kept outside catches the truncation.
    const withKept = await offline(['--file', truncated, '--checkpoint', checkpointFile]);
    expect(withKept.code).toBe(1);
    expect(JSON.parse(withKept.stdout).break).toMatchObject({ sequence: 251, kind: 'missing' });

    // The JSON key set from /.well-known/audit-signing-keys.json serves as --public-key too.
    const jwksFile = path.join(dir, 'keys.json');
    const jwk = createPublicKey(env.SIGNING_KEY as string).export({ format: 'jwk' });
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    const withJwks = await cli(['verify', '--file', file, '--public-key', jwksFile, '--json']);
    expect(withJwks.code, withJwks.stderr).toBe(0);

    // A public key other than the gateway's does not vouch for its statements: they are signed by
    // a key the verifier was not given, which is what it says (exit status 4), not "modified".
    const otherKey = path.join(dir, 'other.pem');
    writeFileSync(otherKey, generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }));
    const foreign = await cli(['verify', '--file', file, '--public-key', otherKey, '--json']);
    expect(foreign.code).toBe(4);
    expect(JSON.parse(foreign.stdout)).toMatchObject({ intact: false, status: 'unknown-key', break: null });
    expect(JSON.parse(foreign.stdout).problems[0]).toMatch(/signed by key [0-9a-f]{16}, which was not given/);
  });

  it('verifies from the database with the CLI', async () => {
    const result = await cli(['verify', '--tenant', 'acme', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ intact: true, eventsChecked: 300, headSequence: 300 });
  });

  it('exports what a filter matches with the CLI, and verifies it offline with exit codes', async () => {
    const chain = path.join(dir, 'for-actions.ndjson');
    expect((await cli(['export', '--tenant', 'acme', '--out', chain])).code).toBe(0);
    const action = JSON.parse(
      readFileSync(chain, 'utf8')
        .split('\n')
        .find((l) => l.includes('"type":"event"')) as string,
    ).canonical.match(/"action":"([^"]+)"/)[1] as string;

    const file = path.join(dir, 'filtered.ndjson');
    const exported = await cli([
      'export',
      '--tenant',
      'acme',
      '--format',
      'ndjson',
      '--actions',
      action,
      '--out',
      file,
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const events = lines.filter((l) => l.includes('"type":"event"'));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((l) => JSON.parse(l).event.action === action)).toBe(true);
    const ok = await offline(['--file', file]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'intact', eventsChecked: events.length });

    const edited = path.join(dir, 'filtered-edited.ndjson');
    writeFileSync(
      edited,
      `${lines.map((l) => (l === events[0] ? l.replace(`"${action}"`, '"forged"') : l)).join('\n')}\n`,
    );
    expect((await offline(['--file', edited])).code).toBe(1);

    const csv = await cli(['export', '--tenant', 'acme', '--format', 'csv', '--actions', action, '--bom']);
    expect(csv.code, csv.stderr).toBe(0);
    expect(csv.stdout.startsWith('\uFEFFsequence,id,')).toBe(true);
    expect(parseCsv(csv.stdout, { bom: true })).toHaveLength(events.length + 1);

    // --search is filter.search: the action's own text finds every event with that action.
    const searched = await cli([
      'export',
      '--tenant',
      'acme',
      '--format',
      'csv',
      '--actions',
      action,
      '--search',
      action,
    ]);
    expect(searched.code, searched.stderr).toBe(0);
    expect(parseCsv(searched.stdout)).toHaveLength(events.length + 1);

    const refused = await cli(['export', '--tenant', 'acme', '--actions', action]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--format csv or ndjson');
  });
});
