// The two servers under test run as child processes of the benchmark, so their memory can be
// read from /proc and neither shares an event loop with the load generator.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import { freePort } from '../test/support/ports.ts';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export type Service = {
  name: string;
  url: string;
  pid: number;
  /** Where its stdout and stderr go. */
  logFile: string;
  /** Resolves false when the process has exited. */
  alive(): boolean;
  stop(): Promise<void>;
};

async function startService(
  name: string,
  args: string[],
  env: Record<string, string>,
  logDir: string,
  port: number,
): Promise<Service> {
  const logFile = path.join(logDir, `${name}.log`);
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', out, out],
  });
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`${name} exited during start-up; see ${logFile}:\n${tail(logFile)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not become healthy within 60s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name,
    url,
    pid: child.pid as number,
    logFile,
    alive: () => !exited,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

export type GatewayOptions = {
  databaseUrl: string;
  migrationUrl: string;
  tokenSecret: string;
  signingKey: string;
  logLevel: string;
  logDir: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs: string[];
  /** Extra settings, e.g. the live tail's limits. */
  env?: Record<string, string>;
};

/** `node src/bin.mjs serve` in production mode, as it would be deployed. */
export async function startGateway(opts: GatewayOptions): Promise<Service> {
  const port = await freePort();
  return startService(
    'gateway',
    [...opts.nodeArgs, 'src/bin.mjs', 'serve'],
    {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: opts.databaseUrl,
      DATABASE_MIGRATION_URL: opts.migrationUrl,
      TOKEN_SECRET: opts.tokenSecret,
      SIGNING_KEY: opts.signingKey,
      LOG_LEVEL: opts.logLevel,
      ...opts.env,
    },
    opts.logDir,
    port,
  );
}

export async function startFloor(opts: {
  databaseUrl: string;
  tokenSecret: string;
  logDir: string;
  /** bench/lean-floor.ts instead of bench/floor.ts. */
  lean?: boolean;
}): Promise<Service> {
  const port = await freePort();
  return startService(
    opts.lean ? 'lean-floor' : 'floor',
    ['--import', 'tsx', opts.lean ? 'bench/lean-floor.ts' : 'bench/floor.ts'],
    { FLOOR_DATABASE_URL: opts.databaseUrl, FLOOR_TOKEN_SECRET: opts.tokenSecret, FLOOR_PORT: String(port) },
    opts.logDir,
    port,
  );
}

/** Resident memory of a process, from /proc (Linux). */
export class MemoryWatch {
  constructor(private readonly pid: number) {}

  /** Current and peak resident set size, in MiB; null where /proc is not available. */
  read(): { rss: number; peak: number } | null {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
      return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
    } catch {
      return null;
    }
  }

  /**
   * Watches one stretch of work: the RSS at its start and the highest RSS during it. The kernel's
   * high-water mark is reset first ("5" to clear_refs, Linux ≥ 4.0) so it covers only this
   * stretch; sampling every 50 ms backs it up where the reset is refused.
   */
  track(): () => { start: number; peak: number } | null {
    let reset = false;
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      reset = true;
    } catch {
      reset = false;
    }
    const first = this.read();
    if (!first) return () => null;
    let sampled = first.rss;
    const timer = setInterval(() => {
      sampled = Math.max(sampled, this.read()?.rss ?? 0);
    }, 50);
    return () => {
      clearInterval(timer);
      const now = this.read();
      const peak = Math.max(sampled, now?.rss ?? 0, reset ? (now?.peak ?? 0) : 0);
      return { start: first.rss, peak };
    };
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User plus system CPU seconds a process has used, from /proc/<pid>/stat; null when unreadable. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

export type CpuUse = { server: number; database: number };

/**
 * CPU spent on a stretch of work by a server process and by the Postgres backends serving its
 * connections (found by application_name; the server runs on this machine). Tells whether a
 * gap to the floor is spent in Node or in the database.
 */
export class CpuMeter {
  constructor(
    private readonly owner: postgres.Sql,
    private readonly database: string,
  ) {}

  async start(pid: number, applicationName: string): Promise<() => Promise<CpuUse | null>> {
    const before = await this.#snapshot(pid, applicationName);
    return async () => {
      const after = await this.#snapshot(pid, applicationName);
      if (!before || !after) return null;
      let database = 0;
      for (const [backend, seconds] of after.backends)
        database += seconds - (before.backends.get(backend) ?? 0);
      return { server: after.server - before.server, database };
    };
  }

  async #snapshot(pid: number, applicationName: string) {
    const server = cpuSeconds(pid);
    const rows = await this.owner<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = ${this.database} and application_name = ${applicationName}`;
    const backends = new Map<number, number>();
    for (const r of rows) {
      const seconds = cpuSeconds(r.pid);
      if (seconds !== null) backends.set(r.pid, seconds);
    }
    return server === null || (rows.length > 0 && backends.size === 0) ? null : { server, backends };
  }
}
