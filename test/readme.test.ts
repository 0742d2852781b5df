// The README runs as written. Its quick-start shell blocks marked `<!-- readme-test: embedded -->`
// or `<!-- readme-test: postgres -->` are extracted and run, in README order, in a scratch copy of
// the working tree, as a newcomer pastes them into a shell: the embedded blocks on the PGlite
// project, the Postgres block on the Postgres project (against a scratch database on
// TEST_DATABASE_URL's server). Each command must exit 0 and answer what the README says it does.
//
// What the test does differently from a newcomer, and why:
// - `npm ci` lines are not run: the copy links the worktree's node_modules and its dist/ (rebuilt
//   first when a source is newer), which is what `npm ci` would have produced, minus minutes.
// - `npm start` runs in the background, as in a second terminal, and the next command waits until
//   it answers /readyz. It gets a port of its own (PORT), so it never collides with another test,
//   and `127.0.0.1:4000` in the commands is replaced by that port.
// - In the Postgres block, the server (`-h 127.0.0.1 -U postgres`, `postgres://postgres@127.0.0.1:5432`)
//   is TEST_DATABASE_URL's and the database `audit` a scratch one, dropped afterwards.
// - The commands run with a clean environment (PATH, HOME, locale): nothing the test runner set,
//   no NODE_ENV, no DOTENV_FILE, so `.env` is read as it would be in a new shell.
// Every substitution must apply (else the README changed and this header and the table below must
// follow), and every command must have an expectation below.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureCompiledCli } from './support/cli.ts';
import { dbKind } from './support/gateway.ts';
import { freePort } from './support/ports.ts';

type Tag = 'embedded' | 'postgres';

/** The marked blocks of the README, each as its commands (continuation lines joined). */
function readmeBlocks(markdown: string): { tag: Tag; commands: string[] }[] {
  const blocks: { tag: Tag; commands: string[] }[] = [];
  for (const m of markdown.matchAll(/<!-- readme-test: (embedded|postgres) -->\n```sh\n([\s\S]*?)\n```/g)) {
    const commands: string[] = [];
    let pending = '';
    for (const line of (m[2] as string).split('\n')) {
      if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
      pending += pending === '' ? line : `\n${line}`;
      if (!line.endsWith('\\')) {
        commands.push(pending);
        pending = '';
      }
    }
    blocks.push({ tag: m[1] as Tag, commands });
  }
  return blocks;
}

/** A command without its trailing comment, for matching (the shell ignores the comment anyway). */
function bare(command: string): string {
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && /\s/.test(command[i - 1] ?? '')) return command.slice(0, i).trim();
  }
  return command.trim();
}

type Scratch = {
  dir: string;
  port: number;
  /** Where the Postgres block's database lives. */
  database?: { name: string; url: string; host: string; port: string; user: string };
  /** The API key `keys create` printed. */
  key?: string;
};

type Expectation = {
  when: RegExp;
  /** What the command printed (stdout and stderr together) must say; the exit status is checked for all. */
  check?: (output: string, scratch: Scratch) => void | Promise<void>;
};

/** What each command answers, as the README's comments and prose say. */
const EXPECTATIONS: Expectation[] = [
  { when: /^KEY=\$\(cat \.data\/demo-api-key\)$/ },
  {
    when: /audit-log\?maxResults=5'$/,
    check: (out) => {
      const body = JSON.parse(out) as { data: { date: string }[]; nextToken?: string };
      expect(body.data).toHaveLength(5);
      const dates = body.data.map((e) => Date.parse(e.date));
      expect(dates).toEqual([...dates].sort((a, b) => b - a)); // newest first
      expect(typeof body.nextToken).toBe('string');
    },
  },
  {
    when: /\/api\/data\/audit\/filters'$/,
    check: (out) => {
      const body = JSON.parse(out) as { target_kinds: { name: string; action_keys: string[] }[] };
      expect(body.target_kinds.length).toBeGreaterThan(0);
      for (const kind of body.target_kinds) expect(kind.action_keys.length).toBeGreaterThan(0);
    },
  },
  {
    when: /\/audit\/v1\/event -i$/,
    check: (out) => {
      const [head = '', body] = out.split(/\r\n\r\n/);
      expect(head).toMatch(/^HTTP\/1\.1 201 Created\r\n/);
      expect(head).toMatch(/\r\ncontent-length: 0(\r\n|$)/i);
      expect(body).toBe('');
    },
  },
  { when: /^createdb / },
  {
    when: /^npx audit-gateway secrets --out \.env$/,
    check: (_out, { dir }) => {
      const env = readFileSync(path.join(dir, '.env'), 'utf8');
      expect(env).toMatch(/^export TOKEN_SECRET=\S{32,}$/m);
      expect(env).toMatch(/^export SIGNING_KEY=\S+$/m);
    },
  },
  { when: /^echo 'DATABASE_URL=postgres:\/\/\S+' >> \.env$/ },
  {
    when: /^npx audit-gateway tenants create acme$/,
    check: (out, { database }) => {
      expect(out).toContain(
        `database: Postgres database "${database?.name}" on ${database?.host}:${database?.port}`,
      );
      expect(out).toMatch(/acme/);
    },
  },
  {
    when: /^npx audit-gateway keys create --tenant acme --scopes read,write$/,
    check: (out, scratch) => {
      scratch.key = out.match(/agw_[A-Za-z0-9]{12}_[A-Za-z0-9]{38}/)?.[0];
      expect(scratch.key, out).toBeDefined();
    },
  },
];

const SERVER = /^npm start$/;
const SKIPPED = /^npm ci\b/;

/** A copy of the working tree (tracked and untracked, not ignored files), sharing node_modules and dist/. */
function copyWorkingTree(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'agw-readme-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '' && existsSync(f));
  for (const file of files) {
    mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    cpSync(file, path.join(dir, file));
  }
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'), 'dir');
  symlinkSync(path.resolve('dist'), path.join(dir, 'dist'), 'dir');
  return dir;
}

/** What a new shell has: no test-runner settings, no NODE_ENV, no DOTENV_FILE. */
function shellEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    npm_config_update_notifier: 'false',
    ...extra,
  };
}

function substitute(command: string, scratch: Scratch): string {
  let out = command.replaceAll('127.0.0.1:4000', `127.0.0.1:${scratch.port}`);
  const db = scratch.database;
  if (db) {
    out = out
      .replace(
        /^createdb -h 127\.0\.0\.1 -U postgres audit$/,
        `createdb -h ${db.host} -p ${db.port} -U ${db.user} ${db.name}`,
      )
      .replaceAll('postgres://postgres@127.0.0.1:5432/audit', db.url);
  }
  return out;
}

const servers: ChildProcess[] = [];

async function startServer(scratch: Scratch): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('bash', ['-c', 'exec npm start'], {
    cwd: scratch.dir,
    env: shellEnvironment({ PORT: String(scratch.port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm, sh and node stop together
  });
  servers.push(child);
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  let exited: number | null | undefined;
  child.once('exit', (code) => {
    exited = code;
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`npm start exited with ${exited}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not answer /readyz:\n${output}`);
    const ready = await fetch(`http://127.0.0.1:${scratch.port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { child, output: () => output };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  await exited;
}

afterAll(() => {
  for (const child of servers) if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
});

/** Runs commands in one shell (so KEY=… carries over), each one's output kept apart. */
function runInShell(commands: string[], scratch: Scratch): Promise<{ code: number; outputs: string[] }> {
  const marker = `@@readme-${process.pid}@@`;
  const script = [
    'set -euo pipefail',
    ...commands.flatMap((c) => [`{\n${c}\n} 2>&1`, `printf '\\n${marker}\\n'`]),
  ].join('\n');
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', script],
      { cwd: scratch.dir, env: shellEnvironment(), maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => {
        const outputs = stdout.split(`\n${marker}\n`);
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, outputs });
      },
    );
  });
}

/** Runs the blocks of one tag in order, starting `npm start` in the background, checking every command. */
async function runBlocks(
  tag: Tag,
  scratch: Scratch,
  onServerReady?: (serverOutput: string) => Promise<void>,
) {
  const blocks = readmeBlocks(readFileSync('README.md', 'utf8')).filter((b) => b.tag === tag);
  expect(blocks.length, `README blocks marked readme-test: ${tag}`).toBeGreaterThan(0);
  const started: ChildProcess[] = [];
  try {
    for (const block of blocks) {
      let chunk: string[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        const run = chunk;
        chunk = [];
        const { code, outputs } = await runInShell(
          run.map((c) => substitute(c, scratch)),
          scratch,
        );
        for (const [i, command] of run.entries()) {
          const output = outputs[i];
          if (output === undefined)
            throw new Error(`\`${command}\` failed (exit ${code}):\n${outputs.join('\n')}`);
          const expectation = EXPECTATIONS.find((e) => e.when.test(bare(command)));
          await expectation?.check?.(output, scratch);
        }
        expect(code, outputs.join('\n')).toBe(0);
      };
      for (const command of block.commands) {
        const plain = bare(command);
        if (SKIPPED.test(plain)) continue;
        if (SERVER.test(plain)) {
          await flush();
          const server = await startServer(scratch);
          started.push(server.child);
          await onServerReady?.(server.output());
          continue;
        }
        expect(
          EXPECTATIONS.some((e) => e.when.test(plain)),
          `the README runs \`${plain}\`; say in test/readme.test.ts what it answers`,
        ).toBe(true);
        chunk.push(command);
      }
      await flush();
    }
  } finally {
    for (const child of started) await stopServer(child);
  }
  return started.length;
}

describe('the README quick start', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('finds its marked blocks, with continuation lines joined', () => {
    const blocks = readmeBlocks(readFileSync('README.md', 'utf8'));
    expect(blocks.map((b) => b.tag)).toEqual(['embedded', 'embedded', 'postgres']);
    expect(blocks.flatMap((b) => b.commands.map(bare))).toContain('npm start');
    expect(
      readmeBlocks('<!-- readme-test: embedded -->\n```sh\n# a comment\ncurl -s \\\n  x   # says y\n```'),
    ).toEqual([{ tag: 'embedded', commands: ['curl -s \\\n  x   # says y'] }]);
  });

  it.skipIf(dbKind !== 'pglite')(
    'on the embedded database: npm start, then the curl examples',
    async () => {
      await ensureCompiledCli();
      const scratch: Scratch = { dir: copyWorkingTree(), port: await freePort() };
      dirs.push(scratch.dir);
      const servers = await runBlocks('embedded', scratch, async (output) => {
        expect(output).toContain(`GraphiQL:  http://127.0.0.1:${scratch.port}/graphql`);
        expect(output).toMatch(/Demo key: {2}agw_/);
      });
      expect(servers).toBe(1);
    },
    180_000,
  );

  it.skipIf(dbKind !== 'postgres' || !process.env.TEST_DATABASE_URL)(
    'on Postgres: createdb, secrets in .env, a tenant and a key from a new shell, npm start; the key works',
    async () => {
      await ensureCompiledCli();
      const server = new URL(process.env.TEST_DATABASE_URL as string);
      const name = `agw_readme_${process.pid}_${Date.now().toString(36)}`;
      const url = new URL(server);
      url.pathname = `/${name}`;
      const scratch: Scratch = {
        dir: copyWorkingTree(),
        port: await freePort(),
        database: {
          name,
          url: url.toString(),
          host: server.hostname,
          port: server.port || '5432',
          user: decodeURIComponent(server.username) || 'postgres',
        },
      };
      dirs.push(scratch.dir);
      try {
        const servers = await runBlocks('postgres', scratch, async () => {
          // The key the README's `keys create` printed, against the server the README started.
          const key = scratch.key;
          expect(key).toMatch(/^agw_/);
          const res = await fetch(`http://127.0.0.1:${scratch.port}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({ query: '{ viewer { tenant { slug } } }' }),
          });
          expect(await res.json()).toEqual({ data: { viewer: { tenant: { slug: 'acme' } } } });
        });
        expect(servers).toBe(1);
        expect(existsSync(path.join(scratch.dir, '.data'))).toBe(false); // never the embedded store
      } finally {
        const admin = postgres(server.toString(), { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
        await admin.end();
      }
    },
    180_000,
  );
});
