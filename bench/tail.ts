// The live tail's benchmark (`npm run bench:tail -- --database audit_bench_NAME`): the gateway
// runs as a child process in production mode; this process ingests over HTTP and subscribes over
// SSE. Reported:
// - latency from an append's acknowledgement to a subscriber receiving the event, p50/p99, at 100
//   and 1,000 events/s, next to the floor measured on the same events at the same time: a bare
//   postgres.js LISTEN on the same channel plus the read by sequence in the tenant's transaction;
// - 1,000 open streams on one instance: the gateway's RSS growth, and ingest throughput with and
//   without them (closed loop, batches of 50, into a tenant nobody watches);
// - log-stream delivery next to ingest (bench/log-streams.ts), on a gateway of its own per pool
//   size (`--stream-pool-sizes`), to a webhook in this process and to NATS JetStream (`--nats`).
// `--parts latency,fanout,streams` picks what runs.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createApiKey, createTenant } from '../src/auth/admin.ts';
import { openDatabase } from '../src/db/client.ts';
import { openTail, type TailStream } from '../test/support/live-tail-client.ts';
import { LOG_STREAM_BENCH_ENV, logStreamBench } from './log-streams.ts';
import { CpuMeter, MemoryWatch, startGateway } from './processes.ts';
import { closedLoopIngest, pacedIngest, postEvents } from './writers.ts';

const { values: args } = parseArgs({
  options: {
    database: { type: 'string', default: 'audit_bench_tail' },
    duration: { type: 'string', default: '5' },
    subscribers: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'bench-results' },
    parts: { type: 'string', default: 'latency,fanout,streams' },
    'stream-pool-sizes': { type: 'string', default: '10' },
    /** A NATS JetStream server to deliver to as well; empty: webhook only. */
    nats: { type: 'string', default: '127.0.0.1:4222' },
  },
});
const dbName = args.database as string;
if (!/^audit_bench_[a-z0-9_]+$/.test(dbName) || dbName === 'audit_bench_10m') {
  throw new Error('--database must name a scratch database audit_bench_<name> (dropped and recreated)');
}
const seconds = Number(args.duration);
const parts = new Set((args.parts as string).split(','));
const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = Object.assign(new URL(serverUrl), { pathname: `/${dbName}` }).toString();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

async function main() {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${dbName}" with (force)`);
  await admin.unsafe(`create database "${dbName}"`);
  await admin.end();

  const logDir = path.resolve(args.out as string, 'logs');
  mkdirSync(logDir, { recursive: true });
  const gatewayOptions = {
    databaseUrl: dbUrl,
    migrationUrl: dbUrl,
    tokenSecret: randomBytes(32).toString('base64url'),
    signingKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    logLevel: 'warn',
    logDir,
    nodeArgs: [],
  };
  const gateway = await startGateway({
    ...gatewayOptions,
    env: { LIVE_TAIL_STREAMS_PER_KEY: '100000', LIVE_TAIL_STREAMS_PER_TENANT: '100000' },
  });
  const database = await openDatabase({ url: dbUrl, migrate: false, poolSize: 2 });
  const tenant = async (slug: string) => {
    const t = await createTenant(database, slug);
    return { id: t.id, slug, key: (await createApiKey(database, slug, ['read', 'write'])).key };
  };

  const post = (key: string, count: number, at: Map<string, number>) =>
    postEvents(gateway.url, key, count, at);

  if (parts.has('latency')) {
    // ---------------------------------------------------------------------------------------------
    // Latency at a fixed rate: the gateway's stream and the floor's LISTEN + read, on the same events.
    const latency: Record<string, unknown>[] = [];
    for (const rate of [100, 1000]) {
      const t = await tenant(`tail-${rate}`);
      const acked = new Map<string, number>();
      const gatewayMs: number[] = [];
      const floorMs: number[] = [];
      const received = new Map<string, number>();
      const record = (into: number[], id: string, at: number) => {
        const a = acked.get(id);
        // Received before the writer saw its acknowledgement: counted as 0 ms.
        if (a === undefined) received.set(`${into === gatewayMs ? 'g' : 'f'}${id}`, at);
        else into.push(Math.max(0, at - a));
      };
      const stream: TailStream = openTail(gateway.url, t.key);
      await stream.opened();
      const reading = (async () => {
        for (;;) {
          const m = await stream.next(30_000).catch(() => null);
          if (m?.event !== 'next' || !m.data.data) return;
          record(gatewayMs, m.data.data.auditEventStream.node.id, performance.now());
        }
      })();
      const floor = await startFloorListener(dbUrl, t.id, (id) => record(floorMs, id, performance.now()));
      const sent = await pacedIngest(gateway.url, t.key, rate, seconds, acked);
      await sleep(3000);
      for (const [k, at] of received) {
        const a = acked.get(k.slice(1));
        if (a !== undefined) (k[0] === 'g' ? gatewayMs : floorMs).push(Math.max(0, at - a));
      }
      stream.close();
      await reading;
      await floor.end();
      const row = {
        rate,
        sent,
        gatewayDelivered: gatewayMs.length,
        floorDelivered: floorMs.length,
        gatewayP50: quantile(gatewayMs, 0.5),
        gatewayP99: quantile(gatewayMs, 0.99),
        floorP50: quantile(floorMs, 0.5),
        floorP99: quantile(floorMs, 0.99),
      };
      latency.push(row);
      console.log(JSON.stringify(row));
    }
  }

  if (parts.has('fanout')) {
    // ---------------------------------------------------------------------------------------------
    // 1,000 open streams: memory, and ingest with and without them.
    const ingest = async (key: string) => (await closedLoopIngest(gateway.url, key, seconds)).perSecond;
    const writer = await tenant('tail-ingest');
    await ingest(writer.key); // warm-up
    const without = await ingest(writer.key);
    const memory = new MemoryWatch(gateway.pid);
    const rssBefore = memory.read()?.rss ?? Number.NaN;
    const watched = await Promise.all(Array.from({ length: 10 }, (_, i) => tenant(`tail-watched-${i}`)));
    const count = Number(args.subscribers);
    const streams = Array.from({ length: count }, (_, i) =>
      openTail(gateway.url, (watched[i % 10] as { key: string }).key),
    );
    const statuses = await Promise.all(streams.map((s) => s.opened()));
    await sleep(2000);
    const rssOpen = memory.read()?.rss ?? Number.NaN;
    const withStreams = await ingest(writer.key);
    const rssAfter = memory.read()?.rss ?? Number.NaN;
    // And every stream still live: one event per watched tenant reaches all of them.
    for (const w of watched) await post(w.key, 1, new Map());
    const delivered = await Promise.all(
      streams.map((s) =>
        s.edges(1, 15_000).then(
          () => 1,
          () => 0,
        ),
      ),
    );
    for (const s of streams) s.close();
    const fanout = {
      subscribers: count,
      opened: statuses.filter((s) => s === 200).length,
      stillDelivering: delivered.reduce((a: number, b: number) => a + b, 0),
      rssBeforeMiB: Math.round(rssBefore),
      rssWithStreamsMiB: Math.round(rssOpen),
      rssAfterIngestMiB: Math.round(rssAfter),
      ingestWithout: Math.round(without),
      ingestWith: Math.round(withStreams),
      ingestRatio: Math.round((withStreams / without) * 1000) / 1000,
    };
    console.log(JSON.stringify(fanout));
  }
  await gateway.stop();

  // ---------------------------------------------------------------------------------------------
  // Log-stream delivery next to ingest, on a gateway of its own with the fast stream settings.
  if (parts.has('streams')) {
    console.log(JSON.stringify({ logStreamSettings: LOG_STREAM_BENCH_ENV }));
    const rows: Record<string, unknown>[] = [];
    const owner = postgres(dbUrl, { max: 1, onnotice: () => {} });
    const meter = new CpuMeter(owner, dbName);
    // One gateway per pool size (`--stream-pool-sizes 10,30`): delivery shares the pool with ingest.
    for (const pool of (args['stream-pool-sizes'] as string).split(',')) {
      const env = { ...LOG_STREAM_BENCH_ENV, DATABASE_POOL_SIZE: pool };
      const streaming = await startGateway({ ...gatewayOptions, env });
      const measured = await logStreamBench({
        url: streaming.url,
        seconds,
        tenant,
        label: `pool ${pool}`,
        nats: (args.nats as string) || undefined,
        cpu: () => meter.start(streaming.pid, 'audit-gateway'),
      });
      rows.push(...measured);
      await streaming.stop();
    }
    await owner.end();
    console.table(rows);
  }
  console.log(JSON.stringify({ loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) }));
  await database.close();
}

/** The floor: a bare LISTEN on the gateway's channel and the read by sequence it triggers. */
async function startFloorListener(url: string, tenantId: number, onEvent: (id: string) => void) {
  const sql = postgres(url, { max: 2, onnotice: () => {}, connection: { role: 'audit_gateway' } });
  let position = 0;
  let running = false;
  let again = false;
  const read = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    let full = false;
    do {
      again = false;
      const rows = await sql.begin(async (tx) => {
        await tx`select set_config('app.tenant_id', ${String(tenantId)}, true)`;
        return tx<{ id: string; seq: string }[]>`
          select id, seq from audit_events where tenant_id = ${tenantId} and seq > ${position} order by seq limit 500`;
      });
      for (const r of rows) {
        position = Number(r.seq);
        onEvent(r.id);
      }
      full = rows.length === 500;
    } while (again || full);
    running = false;
  };
  const { unlisten } = await sql.listen('audit_events', (payload) => {
    if (payload.startsWith(`${tenantId}:`)) void read();
  });
  return {
    end: async () => {
      await unlisten();
      await sql.end();
    },
  };
}

await main();
