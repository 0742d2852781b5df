// A 2xx means the event is durable, so the gateway refuses to start on a database that would
// acknowledge a commit before it is on disk. synchronous_commit can be turned off for one database
// (ALTER DATABASE ... SET), which is tested here; fsync only for a whole server, which the fault
// project tests on a throwaway cluster (test/fault/durability-off.test.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/client.ts';
import { createTestDatabase, dbKind, testSecrets } from './support/gateway.ts';

let database: Awaited<ReturnType<typeof createTestDatabase>>;

/** Runs `ALTER DATABASE <this test's database> <change>` as the superuser. */
async function alterDatabase(change: string): Promise<void> {
  const su = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    await su.unsafe(`alter database "${new URL(database.url).pathname.slice(1)}" ${change}`);
  } finally {
    await su.end();
  }
}

/** Runs `audit-gateway serve` and waits for it to exit (a gateway that starts serving is killed). */
function serve(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [path.resolve('src/bin.mjs'), 'serve'], {
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  const started = setInterval(() => {
    if (output.includes('Audit gateway on')) child.kill('SIGKILL');
  }, 50);
  const deadline = setTimeout(() => child.kill('SIGKILL'), 45_000);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      clearInterval(started);
      clearTimeout(deadline);
      resolve({ code, output });
    });
  });
}

describe.skipIf(dbKind !== 'postgres')('durability settings on Postgres', () => {
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it('refuses to start on a database with synchronous_commit = off, and says why', async () => {
    await alterDatabase('set synchronous_commit = off');
    const { code, output } = await serve({ DATABASE_URL: database.url, ...testSecrets() });
    expect(output).not.toContain('Audit gateway on');
    expect(code, output).toBe(1);
    expect(output).toMatch(/Refusing to serve from this database/);
    expect(output).toMatch(/synchronous_commit is off, so a commit is acknowledged before it is durable/);
    await expect(openDatabase({ url: database.url, migrate: false })).rejects.toThrow(/synchronous_commit/);
  });

  it('serves on a durable default, and its own sessions always commit synchronously', async () => {
    // `local` is durable on this server (no standby to wait for); the gateway still pins `on`.
    await alterDatabase('set synchronous_commit = local');
    const opened = await openDatabase({ url: database.url, migrate: false });
    try {
      const [row] = await opened.rows<{ setting: string }>(
        sql`select current_setting('synchronous_commit') as setting`,
      );
      expect(row?.setting).toBe('on');
    } finally {
      await opened.close();
    }
    // The default seen by any other session is untouched.
    const su = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const [other] = await su<
        { setting: string }[]
      >`select current_setting('synchronous_commit') as setting`;
      expect(other?.setting).toBe('local');
    } finally {
      await su.end();
    }
  });
});
