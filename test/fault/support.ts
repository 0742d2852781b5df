// Throwaway Postgres 15 clusters and gateway child processes for the fault tests. A cluster lives
// in a temporary directory, listens on 127.0.0.1 on a port of its own (never the shared 5432), and
// can be killed (`pg_ctl stop -m immediate`, i.e. a crash: no shutdown checkpoint) and restarted.
// PostgreSQL refuses to run as root: as root (CI), its binaries run as `postgres` through runuser.
// PG_BIN overrides where the binaries are.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApiKey, createTenant } from '../../src/auth/admin.ts';
import { openDatabase } from '../../src/db/client.ts';

const run = promisify(execFile);
const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

export type Cluster = {
  port: number;
  /** Superuser URL of a database on this cluster. */
  url(database?: string): string;
  /** Starts the server (again), with extra `-c name=value` settings for this run only. */
  start(settings?: Record<string, string>): Promise<void>;
  /**
   * Starts the server as a standby without hot standby and without a primary: it stays in
   * recovery, refusing every connection with "the database system is not accepting connections"
   * (57P03), like a server in a long crash recovery. The next `start()` is a normal one again.
   */
  startInRecovery(): Promise<void>;
  /** Kills the server the way a crash would: no shutdown checkpoint, clients cut off. */
  crash(): Promise<void>;
  /** Stops the server cleanly. */
  stop(): Promise<void>;
  /** The server log so far. */
  log(): string;
  /** Stops the server (if running) and removes every file. Safe to call twice. */
  destroy(): Promise<void>;
};

/** Runs a PostgreSQL binary as the `postgres` user (or as ourselves when we are not root). */
function pg(command: string, args: string[]): Promise<unknown> {
  return asRoot
    ? run('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args])
    : run(path.join(BIN, command), args);
}

function pgSync(command: string, args: string[]): void {
  if (asRoot)
    execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args], { stdio: 'ignore' });
  else execFileSync(path.join(BIN, command), args, { stdio: 'ignore' });
}

/** initdb's a new cluster in a temporary directory and starts it on a free port. */
export function startCluster(settings: Record<string, string> = {}): Promise<Cluster> {
  return makeCluster(settings, (data) =>
    pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']),
  );
}

/**
 * A hot-standby streaming replica of `primary` (`pg_basebackup -R`: it follows the primary over
 * replication and serves read-only queries), started on a port of its own. `start()` keeps it a
 * standby.
 */
export function startReplica(primary: Cluster, settings: Record<string, string> = {}): Promise<Cluster> {
  return makeCluster(
    settings,
    (data) =>
      pg('pg_basebackup', [
        ...['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres'],
        ...['-D', data, '-R', '-X', 'stream', '--no-sync', '-c', 'fast'],
      ]),
    true,
  );
}

async function makeCluster(
  settings: Record<string, string>,
  init: (data: string) => Promise<unknown>,
  replica = false,
): Promise<Cluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agw-fault-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  let port = 0;
  let running = false;
  let destroyed = false;

  const pgCtl = (...args: string[]) => pg('pg_ctl', ['-D', data, ...args]);
  const standbySignal = path.join(data, 'standby.signal');
  const launch = async (extra: Record<string, string>, standby: boolean) => {
    if (standby) {
      writeFileSync(standbySignal, '');
      if (asRoot) execFileSync('chown', ['postgres:postgres', standbySignal]);
    } else if (!replica) {
      rmSync(standbySignal, { force: true });
    }
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=60',
      ...Object.entries({ ...settings, ...extra }).map(([k, v]) => `-c ${k}=${v}`),
    ].join(' ');
    // -w returns once the server accepts connections, or (hot standby off) once it is in recovery.
    await pgCtl('-l', logFile, '-w', '-t', '60', '-o', options, 'start');
    running = true;
  };
  const stopNow = () => {
    if (!running) return;
    running = false;
    try {
      pgSync('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
  };
  // If the test process dies before afterAll, leave neither a postmaster nor its files behind.
  const onExit = () => {
    stopNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const cluster: Cluster = {
    get port() {
      return port;
    },
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: (extra = {}) => launch(extra, false),
    startInRecovery: () => launch({ hot_standby: 'off' }, true),
    crash: async () => {
      await pgCtl('-m', 'immediate', '-w', 'stop');
      running = false;
    },
    stop: async () => {
      await pgCtl('-m', 'fast', '-w', 'stop');
      running = false;
    },
    log: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      stopNow();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await init(data);
    // A port of our own: try a few random ones above the shared server's.
    for (let attempt = 0; ; attempt++) {
      port = 55_432 + 1 + Math.floor(Math.random() * 2000);
      try {
        await cluster.start();
        break;
      } catch (error) {
        if (attempt >= 4) throw new Error(`could not start the cluster: ${error}\n${cluster.log()}`);
      }
    }
    return cluster;
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

/**
 * Creates `database` on the cluster, migrates it (as the superuser, like DATABASE_MIGRATION_URL
 * would) and makes a tenant with a read/write key.
 */
export async function prepareDatabase(
  cluster: Cluster,
  database: string,
  slugs: string[],
): Promise<{ url: string; tenants: { id: number; slug: string; key: string }[] }> {
  await pg('createdb', ['-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', database]);
  const url = cluster.url(database);
  const db = await openDatabase({ url });
  try {
    const tenants = [];
    for (const slug of slugs) {
      const tenant = await createTenant(db, slug);
      tenants.push({ ...tenant, key: (await createApiKey(db, slug, ['read', 'write'])).key });
    }
    return { url, tenants };
  } finally {
    await db.close();
  }
}

export type GatewayProcess = {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
};

/** Starts `audit-gateway serve` as a child process; resolves once it prints its banner. */
export function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [path.resolve('src/bin.mjs'), 'serve'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0', // any free port; the banner tells which
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const url = /Audit gateway on (http:\/\/\S+)/.exec(out)?.[1];
      if (url && out.includes('OpenAPI:')) {
        clearInterval(timer);
        resolve({ child, url, output: () => out, exited });
      }
    }, 25);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`the gateway exited with ${code}:\n${out}`));
    });
  });
}

/** Kills a gateway that is still running (cleanup after a failed test). */
export function killGateway(gateway: GatewayProcess | undefined): void {
  if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) {
    gateway.child.kill('SIGKILL');
  }
}
