// `npm start` as a newcomer runs it: the real server process, the embedded database, demo data,
// the banner with the key and GraphiQL URL, and the example query that GraphiQL opens with.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../src/graphql/yoga.ts';
import { ensureCompiledCli } from './support/cli.ts';
import { createTestDatabase, dbKind, testSecrets } from './support/gateway.ts';

/** `npm start` runs the compiled entry point; so do these tests. */
let bin: string;
beforeAll(async () => {
  bin = await ensureCompiledCli();
});

type ExampleData = {
  viewer: { tenant: { slug: string } };
  auditEvents: { totalCount: number; edges: unknown[] };
  availableFilters: { actions: string[] };
};

type Started = { child: ChildProcess; output: () => string; url: string };

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

function freePort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

/** Starts `audit-gateway serve` (or `args`) and resolves once the banner is printed. */
function start(env: Record<string, string>, opts: { args?: string[]; cwd?: string } = {}): Promise<Started> {
  const port = freePort();
  const child = spawn(process.execPath, [bin, ...(opts.args ?? ['serve'])], {
    cwd: opts.cwd ?? tmpdir(),
    env: {
      ...process.env,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(port),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('OpenAPI:')) {
        clearInterval(timer);
        resolve({ child, output: () => out, url: `http://127.0.0.1:${port}` });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`server exited with ${code}:\n${out}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

async function runExampleQuery(url: string, key: string) {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: EXAMPLE_QUERY }),
  });
  return { status: res.status, body: (await res.json()) as { data: ExampleData; errors?: unknown[] } };
}

describe.skipIf(dbKind !== 'pglite')('npm start on the embedded database', () => {
  // Two starts of a real server: longer than the default timeout on a busy machine.
  it('seeds a demo tenant, prints its key, and GraphiQL opens on a query that works', {
    timeout: 240_000,
  }, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'agw-start-'));
    try {
      const began = performance.now();
      const first = await start({ DATA_DIR: dataDir });
      const key = /Demo key:\s+(agw_\S+)/.exec(first.output())?.[1];
      expect(key, first.output()).toBeDefined();
      expect(first.output()).toContain(`GraphiQL:  ${first.url}/graphql`);

      expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      const page = await (await fetch(`${first.url}/graphql`, { headers: { accept: 'text/html' } })).text();
      expect(page).toContain('RecentEvents');
      expect(page).toContain(key);

      const result = await runExampleQuery(first.url, key as string);
      const seconds = ((performance.now() - began) / 1000).toFixed(1);
      console.info(`first example query answered ${seconds} s after spawning the server`);
      expect(result.status).toBe(200);
      expect(result.body.errors).toBeUndefined();
      expect(result.body.data.viewer.tenant.slug).toBe('demo');
      expect(result.body.data.auditEvents.totalCount).toBe(3000);
      expect(result.body.data.auditEvents.edges).toHaveLength(10);
      expect(result.body.data.availableFilters.actions).toEqual(
        expect.arrayContaining(['logged-in', 'CREATE_MURAL', 'login', 'user.login.success']),
      );
      expect(await stop(first.child)).toBe(0);

      // A second start keeps the data, does not seed again, and shows the same key. It runs
      // `audit-gateway` with no command, and finds DATA_DIR in the .env of its directory.
      writeFileSync(path.join(dataDir, '.env'), `DATA_DIR=${dataDir}\n`);
      const second = await start({ DOTENV_FILE: '' }, { args: [], cwd: dataDir });
      expect(second.output()).toContain(`embedded PGlite in ${dataDir}`);
      expect(second.output()).toContain(key);
      const again = await runExampleQuery(second.url, key as string);
      expect(again.body.data.auditEvents.totalCount).toBe(3000);
      expect(await stop(second.child)).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(dbKind !== 'postgres')('serve with DATABASE_URL', () => {
  it('migrates a fresh Postgres database and serves, without demo data', async () => {
    const db = await createTestDatabase();
    try {
      const server = await start({ DATABASE_URL: db.url, ...testSecrets() });
      expect(server.output()).not.toContain('Demo key');
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect(await stop(server.child)).toBe(0);
    } finally {
      await db.drop();
    }
  });
});

/** Runs `audit-gateway serve` expecting it to refuse; returns its exit code and stderr. */
async function refusal(env: Record<string, string>): Promise<{ code: unknown; err: string }> {
  const child = spawn(process.execPath, [bin, 'serve'], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  return { code, err };
}

describe('configuration', () => {
  it('a valid TOKEN_SECRET with an unreadable SIGNING_KEY exits 2, naming SIGNING_KEY', async () => {
    const { code, err } = await refusal({
      TOKEN_SECRET: testSecrets().TOKEN_SECRET,
      SIGNING_KEY: 'MC4CAQAwBQYDK2VwBCIEIBROKEN',
      DATA_DIR: 'memory://',
    });
    expect(code).toBe(2);
    expect(err).toContain('SIGNING_KEY: the value is not a readable private key');
    expect(err).not.toContain('Failed to read private key');
  });

  it('lists every problem at once and refuses to start', async () => {
    const child = spawn(process.execPath, [bin, 'serve'], {
      env: {
        ...process.env,
        PORT: 'eighty',
        NODE_ENV: 'production',
        TRUSTED_PROXIES: 'not-an-ip',
        DATABASE_URL: 'mysql://x',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    for (const name of ['PORT', 'DATABASE_URL', 'TRUSTED_PROXIES', 'TOKEN_SECRET', 'SIGNING_KEY'])
      expect(err).toContain(name);
  });
});
