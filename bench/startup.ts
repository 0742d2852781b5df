// `npm run bench:startup`: how long a newcomer waits. Times the compiled CLI (dist/, built first
// when stale) from spawn to exit or to the first GraphQL answer, a few runs each, and prints the
// median against the targets of issue 10. With TEST_DATABASE_URL it also times a command on
// Postgres. `--runs N` (default 3); `--tsx` adds the development entry (src/bin.mjs) to compare.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import postgres from 'postgres';
import { EXAMPLE_QUERY } from '../src/graphql/yoga.ts';
import { ensureCompiledCli } from '../test/support/cli.ts';
import { freePort } from '../test/support/ports.ts';

type Options = { runs: number; tsx?: boolean };
const options = new Command('bench:startup')
  .option('--runs <n>', 'runs per measurement', (v) => Number.parseInt(v, 10), 3)
  .option('--tsx', 'also time the development entry src/bin.mjs (compiles TypeScript on start)')
  .parse()
  .opts<Options>();

const compiled = await ensureCompiledCli();
const developmentEntry = path.resolve('src/bin.mjs');
const work = mkdtempSync(path.join(tmpdir(), 'agw-bench-startup-'));
const baseEnv = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', NODE_ENV: 'development' };

/** Seconds from spawn to a successful exit. */
function timeCommand(entry: string, args: string[], env: Record<string, string>): Promise<number> {
  const began = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { cwd: work, env: { ...baseEnv, ...env } });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.stdout.resume();
    child.once('exit', (code) =>
      code === 0
        ? resolve((performance.now() - began) / 1000)
        : reject(new Error(`${args.join(' ')} exited ${code}:\n${err}`)),
    );
  });
}

/** Seconds from spawning `serve` until the GraphiQL example query answers with the demo data. */
async function timeFirstAnswer(entry: string, dataDir: string): Promise<number> {
  const port = await freePort();
  const began = performance.now();
  const child: ChildProcess = spawn(process.execPath, [entry, 'serve'], {
    cwd: work,
    env: { ...baseEnv, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${out}`);
      const key = /Demo key:\s+(agw_\S+)/.exec(out)?.[1];
      if (key) {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: EXAMPLE_QUERY }),
        });
        const body = (await res.json()) as { data?: { auditEvents?: { totalCount: number } } };
        if (res.status === 200 && (body.data?.auditEvents?.totalCount ?? 0) > 0) {
          return (performance.now() - began) / 1000;
        }
        throw new Error(`the example query answered ${res.status}: ${JSON.stringify(body)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

async function repeat(runs: number, measure: (run: number) => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await measure(i));
  return times;
}

type Row = { what: string; times: number[]; target?: number };
const rows: Row[] = [];

try {
  const embedded = path.join(work, 'data');
  // An existing embedded database, with the demo seeded, for the command and restart timings.
  await timeFirstAnswer(compiled, embedded);

  rows.push({
    what: 'audit-gateway --help',
    times: await repeat(options.runs, () => timeCommand(compiled, ['--help'], {})),
    target: 0.5,
  });
  rows.push({
    what: 'tenants list (existing embedded database)',
    times: await repeat(options.runs, () =>
      timeCommand(compiled, ['tenants', 'list'], { DATA_DIR: embedded }),
    ),
    target: 1.5,
  });
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) {
    const name = `agw_bench_startup_${process.pid}`;
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    try {
      await timeCommand(compiled, ['migrate'], { DATABASE_URL: url.toString() });
      rows.push({
        what: 'tenants list (Postgres)',
        times: await repeat(options.runs, () =>
          timeCommand(compiled, ['tenants', 'list'], { DATABASE_URL: url.toString() }),
        ),
        target: 1.5,
      });
    } finally {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  }
  rows.push({
    what: 'npm start, restart on existing data → first answer',
    times: await repeat(options.runs, () => timeFirstAnswer(compiled, embedded)),
    target: 3,
  });
  rows.push({
    what: 'npm start, first start (seeds 3000 events) → first answer',
    times: await repeat(options.runs, (i) => timeFirstAnswer(compiled, path.join(work, `fresh-${i}`))),
    target: 10,
  });
  if (options.tsx) {
    rows.push({
      what: 'src/bin.mjs --help (tsx, development)',
      times: await repeat(options.runs, () => timeCommand(developmentEntry, ['--help'], {})),
    });
    rows.push({
      what: 'src/bin.mjs tenants list (tsx, development)',
      times: await repeat(options.runs, () =>
        timeCommand(developmentEntry, ['tenants', 'list'], { DATA_DIR: embedded }),
      ),
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const width = Math.max(...rows.map((r) => r.what.length));
const runsWidth = Math.max(8, ...rows.map((r) => r.times.map((t) => t.toFixed(2)).join(' ').length));
process.stdout.write(
  `\n${'measurement'.padEnd(width)}  median  ${'runs (s)'.padEnd(runsWidth)}  target  ratio\n`,
);
for (const row of rows) {
  const m = median(row.times);
  const runs = row.times.map((t) => t.toFixed(2)).join(' ');
  const verdict =
    row.target === undefined
      ? ''
      : `${`${row.target.toFixed(1)} s`.padStart(6)}  ${(m / row.target).toFixed(2)}${m <= row.target ? '' : '  OVER'}`;
  process.stdout.write(
    `${row.what.padEnd(width)}  ${`${m.toFixed(2)} s`.padStart(6)}  ${runs.padEnd(runsWidth)}  ${verdict}\n`,
  );
}
process.stdout.write(
  `\n(ratio = median / target; ${options.runs} runs each; machine load affects every figure)\n`,
);
