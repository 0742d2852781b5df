import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dbKind, startTestGateway, testSecrets } from './support/gateway.ts';

const run = promisify(execFile);
const bin = path.resolve('src/bin.mjs');

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const secrets = testSecrets();
  if (dbKind === 'postgres') {
    const db = await createTestDatabase();
    env = { DATABASE_URL: db.url, ...secrets };
    cleanup = db.drop;
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'agw-cli-'));
    env = { DATA_DIR: dir, ...secrets };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
});
afterAll(() => cleanup?.());

async function cli(...args: string[]) {
  const { stdout } = await run(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
  });
  return stdout;
}

async function cliFails(...args: string[]): Promise<string> {
  try {
    await cli(...args);
  } catch (error) {
    const e = error as { code: number; stderr: string };
    expect(e.code).not.toBe(0);
    return e.stderr;
  }
  throw new Error(`expected ${args.join(' ')} to fail`);
}

describe('the audit-gateway CLI', { timeout: 240_000 }, () => {
  it('migrates, creates tenants and keys (--json), seeds, lists and revokes', async () => {
    expect(await cli('migrate')).toMatch(/migrations applied/);
    const tenant = JSON.parse(await cli('tenants', 'create', 'acme', '--json')) as {
      id: number;
      slug: string;
    };
    expect(tenant).toEqual({ id: expect.any(Number), slug: 'acme' });
    const created = JSON.parse(
      await cli('keys', 'create', '--tenant', 'acme', '--scopes', 'read,write', '--json'),
    ) as {
      key: string;
      id: string;
      scopes: string[];
    };
    expect(created.key).toMatch(/^agw_/);
    expect(created.scopes).toEqual(['read', 'write']);
    const seeded = JSON.parse(await cli('seed', '--tenant', 'acme', '--events', '120', '--json')) as {
      stored: number;
    };
    expect(seeded.stored).toBe(120);
    const listed = JSON.parse(await cli('keys', 'list', '--tenant', 'acme', '--json')) as {
      id: string;
      revokedAt: string | null;
    }[];
    expect(listed.map((k) => k.id)).toEqual([created.id]);

    // The key works against a gateway on the same database...
    const t = await startTestGateway(env);
    try {
      const res = await t.fetch('/api/data/audit?count=1', { key: created.key });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { total: number }).total).toBe(120);
    } finally {
      await t.close();
    }
    // ...until it is revoked.
    expect(await cli('keys', 'revoke', created.id)).toMatch(/revoked/);
    const after = await startTestGateway(env);
    try {
      expect((await after.fetch('/api/data/audit', { key: created.key })).status).toBe(401);
    } finally {
      await after.close();
    }
  });

  it('explains bad input instead of crashing', async () => {
    expect(await cliFails('tenants', 'create', 'Not A Slug')).toMatch(/slug/);
    expect(await cliFails('keys', 'create', '--tenant', 'nobody')).toMatch(/nobody/);
    expect(await cliFails('keys', 'create', '--tenant', 'acme', '--scopes', 'admin')).toMatch(/scopes/);
    expect(await cliFails('keys', 'revoke', 'no-such-key')).toMatch(/no-such-key/);
    expect(await cliFails('seed', '--tenant', 'acme', '--events', 'many')).toMatch(/events/);
  });
});
