import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { ensureCompiledCli, runCompiledCli, scratchCliStore } from './support/cli.ts';
import { dbKind, startTestGateway } from './support/gateway.ts';

const run = promisify(execFile);
let bin: string;

let env: Record<string, string>;
let cleanup: () => Promise<void>;
/** Commands run here, so a .env in the repository never leaks into a test. */
let workDir: string;

beforeAll(async () => {
  bin = await ensureCompiledCli();
  ({ env, workDir, cleanup } = await scratchCliStore('cli'));
});
afterAll(async () => {
  await cleanup?.();
});

async function cli(...args: string[]) {
  const { stdout } = await run(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
    cwd: workDir,
  });
  return stdout;
}

/** Runs the CLI with exactly this environment (plus PATH) in `cwd`; never throws. */
function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  return runCompiledCli(bin, args, { ...opts, cwd: opts.cwd ?? workDir });
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `agw-${prefix}-`));
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

describe('CLI manners', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('reports a mistyped command as unknown, naming it, and lists the commands', async () => {
    const result = await runCli(['tenant', 'create', 'acme']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("unknown command 'tenant'");
    expect(result.stderr).toMatch(/tenants\s/);
    expect(result.stderr).toMatch(/secrets\s/);
  });

  it("lists in each command's help the environment variables it reads", async () => {
    const serve = await runCli(['serve', '--help']);
    for (const name of ['PORT', 'DATABASE_URL', 'TOKEN_SECRET', 'SIGNING_KEY', 'DEMO_EVENTS']) {
      expect(serve.stdout).toContain(name);
    }
    const tenants = await runCli(['tenants', 'create', '--help']);
    expect(tenants.stdout).toContain('DATABASE_URL');
    expect(tenants.stdout).toContain('DATA_DIR');
    expect(tenants.stdout).not.toContain('PORT');
  });
});

describe('secrets', { timeout: 240_000 }, () => {
  it('prints lines that Node’s .env reader and loadConfig accept', async () => {
    const result = await runCli(['secrets']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^export TOKEN_SECRET=\S+$/),
      expect.stringMatching(/^export SIGNING_KEY=\S+$/),
    ]);
    const values = parseEnv(result.stdout);
    expect(() =>
      loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/audit', ...values }),
    ).not.toThrow();
  });

  it('prints lines a POSIX shell runs as they are', async () => {
    const { stdout } = await runCli(['secrets']);
    const { stdout: echoed } = await run('sh', [
      '-c',
      `${stdout}\nprintf '%s\\n' "$TOKEN_SECRET" "$SIGNING_KEY"`,
    ]);
    expect(echoed).toBe(`${parseEnv(stdout).TOKEN_SECRET}\n${parseEnv(stdout).SIGNING_KEY}\n`);
  });

  it('--out writes a private .env that every command then signs with', async () => {
    const dir = tempDir('secrets');
    try {
      writeFileSync(path.join(dir, '.env'), `DATA_DIR=${path.join(dir, 'data')}`);
      expect((await runCli(['secrets', '--out', '.env'], { cwd: dir })).code).toBe(0);
      const file = path.join(dir, '.env');
      expect(statSync(file).mode & 0o077).toBe(0);
      const written = parseEnv(readFileSync(file, 'utf8'));
      expect(written.DATA_DIR).toBe(path.join(dir, 'data'));

      // Nothing but the .env configures these commands.
      expect((await runCli(['tenants', 'create', 'acme'], { cwd: dir })).code).toBe(0);
      expect((await runCli(['seed', '--tenant', 'acme', '--events', '3'], { cwd: dir })).code).toBe(0);
      const checkpoint = await runCli(['checkpoint', '--tenant', 'acme'], { cwd: dir });
      expect(checkpoint.code).toBe(0);
      const signed = JSON.parse(checkpoint.stdout) as { statement: string; signature: string };
      const publicKey = createPublicKey(
        createPrivateKey({
          key: Buffer.from(written.SIGNING_KEY as string, 'base64'),
          format: 'der',
          type: 'pkcs8',
        }),
      );
      expect(
        verify(null, Buffer.from(signed.statement), publicKey, Buffer.from(signed.signature, 'base64')),
      ).toBe(true);

      // Running it again would replace keys that signed checkpoints; it refuses.
      const again = await runCli(['secrets', '--out', '.env'], { cwd: dir });
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/already sets TOKEN_SECRET and SIGNING_KEY/);
      expect(parseEnv(readFileSync(file, 'utf8')).SIGNING_KEY).toBe(written.SIGNING_KEY);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration errors', () => {
  const validToken = 'x'.repeat(40);

  it.each([
    ['the README placeholder', '...', /SIGNING_KEY: must be an Ed25519 private key/],
    [
      'a file that does not exist',
      './keys/signing.pem',
      /SIGNING_KEY: there is no file \.\/keys\/signing\.pem/,
    ],
    [
      'base64 that is not a key',
      'bm90IGEga2V5IGF0IGFsbA==',
      /SIGNING_KEY: the value is not a readable private key/,
    ],
    [
      'an RSA key',
      generateKeyPairSync('rsa', { modulusLength: 1024 })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
      /SIGNING_KEY: the value is a rsa key; it must be an Ed25519 private key/,
    ],
  ])('a bad SIGNING_KEY (%s) exits 2 naming the variable', async (_what, signingKey, message) => {
    const result = await runCli(['tenants', 'list'], {
      env: { TOKEN_SECRET: validToken, SIGNING_KEY: signingKey, DATA_DIR: path.join(workDir, 'unused') },
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('audit-gateway secrets');
  });

  it('accepts SIGNING_KEY as a PEM, as one line of base64, as a PEM with \\n escapes, or as a PEM file', async () => {
    const key = generateKeyPairSync('ed25519').privateKey;
    const pem = key.export({ format: 'pem', type: 'pkcs8' }).toString();
    const file = path.join(workDir, 'signing.pem');
    writeFileSync(file, pem);
    for (const value of [
      pem,
      key.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      pem.trim().replaceAll('\n', '\\n'),
      file,
    ]) {
      expect(loadConfig({ TOKEN_SECRET: validToken, SIGNING_KEY: value }).signingKey).toBe(pem.trim());
    }
  });

  it('an env file that cannot be read exits 2, naming it', async () => {
    const result = await runCli(['--dotenv', 'missing.env', 'tenants', 'list']);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain('cannot read the env file missing.env');
  });

  it('a short TOKEN_SECRET names the variable and the command that makes one', async () => {
    const result = await runCli(['tenants', 'list'], { env: { TOKEN_SECRET: '...' } });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/TOKEN_SECRET: must be at least 32 characters/);
    expect(result.stderr).toContain('audit-gateway secrets');
  });
});

describe('which database a command opens', { timeout: 240_000 }, () => {
  it('names the embedded database and its directory on stderr', async () => {
    const dataDir = path.join(tempDir('which'), 'data');
    const result = await runCli(['tenants', 'list'], { env: { DATA_DIR: dataDir } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`database: embedded PGlite in ${dataDir} (DATABASE_URL not set)`);
  });

  it('names the Postgres host, port, database and user, never the password', async () => {
    // Port 1: nothing listens there, so the command fails after saying where it tried.
    const result = await runCli(['tenants', 'list'], {
      env: { DATABASE_URL: 'postgres://auditor:hunter2-s3cret@127.0.0.1:1/audit_prod' },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'database: Postgres database "audit_prod" on 127.0.0.1:1 as auditor (DATABASE_URL from the environment)',
    );
    expect(result.stderr + result.stdout).not.toContain('hunter2-s3cret');
  });

  it.skipIf(dbKind !== 'postgres')('on a real Postgres with a password in the URL, hides it', async () => {
    const url = new URL(env.DATABASE_URL as string);
    url.password = 'never-printed';
    const result = await runCli(['tenants', 'list'], {
      env: { ...env, DATABASE_URL: url.toString() },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(
      `database: Postgres database "${url.pathname.slice(1)}" on ${url.hostname}:`,
    );
    expect(result.stderr).not.toContain('never-printed');
  });

  it('reads .env, the environment winning over it, and says where DATABASE_URL came from', async () => {
    const dir = tempDir('dotenv');
    try {
      writeFileSync(
        path.join(dir, '.env'),
        `DATA_DIR=${path.join(dir, 'from-file')}\nDATABASE_URL=postgres://u@127.0.0.1:1/from_file\n`,
      );
      const fromFile = await runCli(['tenants', 'list'], { cwd: dir });
      expect(fromFile.stderr).toContain(
        'database: Postgres database "from_file" on 127.0.0.1:1 as u (DATABASE_URL from .env)',
      );

      const overridden = await runCli(['tenants', 'list'], {
        cwd: dir,
        env: { DATABASE_URL: 'postgres://u@127.0.0.1:1/from_env' },
      });
      expect(overridden.stderr).toContain(
        '"from_env" on 127.0.0.1:1 as u (DATABASE_URL from the environment)',
      );

      const notRead = await runCli(['tenants', 'list'], {
        cwd: dir,
        env: { DOTENV_FILE: 'none', DATA_DIR: path.join(dir, 'none') },
      });
      expect(notRead.stderr).toContain(`embedded PGlite in ${path.join(dir, 'none')} (DATABASE_URL not set)`);

      writeFileSync(path.join(dir, 'embedded.env'), `DATA_DIR=${path.join(dir, 'named')}\n`);
      const named = await runCli(['--dotenv', 'embedded.env', 'tenants', 'create', 'acme'], { cwd: dir });
      expect(named.code).toBe(0);
      expect(named.stderr).toContain(`embedded PGlite in ${path.join(dir, 'named')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns before opening the embedded database when an unread .env points to Postgres', async () => {
    const project = tempDir('unread-env');
    try {
      writeFileSync(path.join(project, '.env'), 'DATABASE_URL=postgres://u@127.0.0.1:1/audit\n');
      const sub = path.join(project, 'scripts');
      mkdirSync(sub);
      const dataDir = path.join(project, '.data');
      const result = await runCli(['tenants', 'create', 'acme'], { cwd: sub, env: { DATA_DIR: dataDir } });
      expect(result.stderr).toContain(`database: embedded PGlite in ${dataDir}`);
      expect(result.stderr).toContain(
        `warning: ${path.join(project, '.env')} sets DATABASE_URL, but that file was not read`,
      );
      expect(result.stderr).toContain(
        `warning: there is no embedded database in ${dataDir} yet, so this creates a new, empty one`,
      );
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it('warns when libpq variables are set, since only DATABASE_URL is read', async () => {
    const result = await runCli(['tenants', 'list'], {
      env: { DATA_DIR: path.join(tempDir('libpq'), 'data'), PGHOST: 'db.internal' },
    });
    expect(result.stderr).toContain('warning: PGHOST is set, but audit-gateway reads only DATABASE_URL');
  });
});
