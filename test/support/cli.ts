// The compiled `audit-gateway` (dist/main.js) that `npm ci` builds and `npm start` runs, so the
// CLI tests exercise what ships. Rebuilt first when a source is newer than the last build; the
// lock keeps test files running side by side from building at the same time.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import lockfile from 'proper-lockfile';
import { createTestDatabase, dbKind, testSecrets } from './gateway.ts';

export const cliEntry = path.resolve('dist/main.js');
const stamp = path.resolve('dist/.built');

function newestSource(): number {
  let newest = 0;
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else newest = Math.max(newest, statSync(file).mtimeMs);
    }
  };
  visit(path.resolve('src'));
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) {
    newest = Math.max(newest, statSync(path.resolve(file)).mtimeMs);
  }
  return newest;
}

/**
 * When dist/ was last built: the stamp a build here leaves, else (a fresh `npm ci`, whose
 * `npm run build` leaves none) when tsc wrote the entry point, so the suite does not rebuild what
 * `npm ci` has just built, under test files that are already running it.
 */
function builtAt(): number {
  for (const file of [stamp, cliEntry]) {
    try {
      return statSync(file).mtimeMs;
    } catch {}
  }
  return 0;
}

/** Makes sure dist/ holds a build of the current sources; returns the executable's path. */
export async function ensureCompiledCli(): Promise<string> {
  if (builtAt() >= newestSource()) return cliEntry;
  const lockDir = path.resolve('node_modules/.cache');
  mkdirSync(lockDir, { recursive: true });
  const release = await lockfile.lock(lockDir, {
    lockfilePath: path.join(lockDir, 'audit-gateway-build.lock'),
    retries: { retries: 120, minTimeout: 500, maxTimeout: 1000 },
    stale: 120_000,
  });
  try {
    const started = Date.now();
    if (builtAt() < newestSource()) {
      // What `npm run build` does: compile, then pack the embedded database template.
      await promisify(execFile)(process.execPath, [
        path.resolve('node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
      ]);
      await promisify(execFile)(process.execPath, [path.resolve('dist/db/build-pglite-template.js')]);
      // Dated when the build began: a source saved during the build makes the next run rebuild.
      writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
      utimesSync(stamp, new Date(started), new Date(started));
    }
  } finally {
    await release();
  }
  return cliEntry;
}

/**
 * A store of its own for CLI commands: a scratch Postgres database (TEST_DB=postgres) or a
 * temporary embedded data directory, with the test secrets, and a working directory of its own,
 * so a .env in the repository never leaks into a test. `cleanup` removes all of it.
 */
export async function scratchCliStore(
  prefix: string,
): Promise<{ env: Record<string, string>; workDir: string; cleanup: () => Promise<void> }> {
  const workDir = mkdtempSync(path.join(tmpdir(), `agw-${prefix}-cwd-`));
  const secrets = testSecrets();
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  if (dbKind === 'postgres') {
    const db = await createTestDatabase();
    env = { DATABASE_URL: db.url, ...secrets };
    drop = db.drop;
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), `agw-${prefix}-`));
    env = { DATA_DIR: dir, ...secrets };
    drop = async () => rmSync(dir, { recursive: true, force: true });
  }
  return {
    env,
    workDir,
    cleanup: async () => {
      await drop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export type CliOutcome = { code: number; stdout: string; stderr: string };

/** Runs the compiled CLI with exactly this environment (plus PATH, LOG_LEVEL=warn) in `cwd`; never throws. */
export async function runCompiledCli(
  bin: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd: string },
): Promise<CliOutcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...opts.env },
      cwd: opts.cwd,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as CliOutcome;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
