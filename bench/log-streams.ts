// Log-stream delivery next to ingest, part of `npm run bench:tail`: a webhook receiver in this
// process (the tests' receiver: it verifies `Audit-Signature` on every batch and answers 204), a
// stream created for a fresh tenant with the real `createLogStream` mutation on the gateway under
// test, then sustained ingest (paced at 1,000 events/s, and closed loop at the most the gateway
// takes) while `logStreams { lag }` is polled. Reported per run: ingest and delivered events/s,
// the lag (max over each half of the ingest, and when ingest stops), the time to drain after
// ingest stops, and whether every committed event arrived exactly once in sequence order.
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { FAST_STREAMS } from '../test/support/log-stream-gateways.ts';
import { deliveredInOrder, startReceiver } from '../test/support/log-stream-receiver.ts';
import type { CpuUse } from './processes.ts';
import { closedLoopIngest, pacedIngest } from './writers.ts';

/** The gateway settings the log-stream runs use (the tests' fast polls and retries). */
export const LOG_STREAM_BENCH_ENV = { LOG_STREAMS: 'true', ...FAST_STREAMS };

type Tenant = { slug: string; key: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function gql<T>(url: string, key: string, query: string, variables: object = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown };
  if (!body.data || body.errors) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const CREATE = `mutation ($input: CreateLogStreamInput!) {
  createLogStream(input: $input) { stream { id } secret }
}`;
const LAG = 'query { logStreams { id lag failing } }';

/** Where a run's stream delivers, and what arrived there. */
type Destination = {
  kind: string;
  input: Record<string, unknown>;
  created(secret: string | null): void;
  /** Everything that arrived, in arrival order (redeliveries included). */
  events(): { sequence: number }[];
  badSignatures: () => number | null;
  close(): Promise<void>;
};

async function webhookDestination(): Promise<Destination> {
  const receiver = await startReceiver();
  return {
    kind: 'webhook',
    input: { webhook: { url: receiver.url } },
    created: (secret) => {
      receiver.secret = secret ?? undefined;
    },
    events: () => receiver.events(),
    badSignatures: () => receiver.badSignatures,
    close: () => receiver.close(),
  };
}

/** A JetStream stream of the bench's own (created here, deleted at the end), read by an ordered consumer. */
async function natsDestination(server: string): Promise<Destination> {
  const nc = await connect({ servers: server });
  const jsm = await jetstreamManager(nc);
  const suffix = randomBytes(4).toString('hex');
  const name = `AUDIT_BENCH_${suffix}`;
  const prefix = `auditbench_${suffix}`;
  await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
  const messages = await (await jetstream(nc).consumers.get(name)).consume();
  const events: { sequence: number }[] = [];
  const reading = (async () => {
    for await (const m of messages) events.push(m.json<{ sequence: number }>());
  })();
  return {
    kind: 'nats',
    input: { nats: { servers: [server], stream: name, subjectPrefix: prefix } },
    created: () => {},
    events: () => events,
    badSignatures: () => null,
    close: async () => {
      await messages.close();
      await reading;
      await jsm.streams.delete(name);
      await nc.close();
    },
  };
}

export async function logStreamBench(opts: {
  url: string;
  seconds: number;
  /** A NATS server to deliver to as well (JetStream), or none. */
  nats: string | undefined;
  tenant: (slug: string) => Promise<Tenant>;
  /** Names the gateway's settings in each row. */
  label: string;
  /** Starts measuring the gateway's and its database backends' CPU; the result stops it. */
  cpu: () => Promise<() => Promise<CpuUse | null>>;
}) {
  const { url, seconds } = opts;
  const rows: Record<string, unknown>[] = [];
  const runs: { name: string; ingest: (key: string, at: Map<string, number>) => Promise<number> }[] = [
    { name: 'paced 1000/s', ingest: (key, at) => pacedIngest(url, key, 1000, seconds, at) },
    // The same events/s in a fifth of the commits: what the commit rate costs delivery.
    {
      name: 'paced 1000/s, batches of 50',
      ingest: (key, at) => pacedIngest(url, key, 1000, seconds, at, 50),
    },
    {
      name: 'closed loop',
      ingest: async (key, at) => (await closedLoopIngest(url, key, seconds, at)).events,
    },
  ];
  const destinations = [
    webhookDestination,
    ...(opts.nats ? [() => natsDestination(opts.nats as string)] : []),
  ];
  for (const open of destinations)
    for (const run of runs) {
      const t = await opts.tenant(`ls-${opts.label.replace(/\W+/g, '-')}-${rows.length}`);
      const destination = await open();
      const created = await gql<{ createLogStream: { stream: { id: string }; secret: string | null } }>(
        url,
        t.key,
        CREATE,
        { input: { name: 'bench', ...destination.input } },
      );
      destination.created(created.createLogStream.secret);
      const streamId = created.createLogStream.stream.id;
      const lagNow = async () => {
        const d = await gql<{ logStreams: { id: string; lag: number; failing: boolean }[] }>(url, t.key, LAG);
        const s = d.logStreams.find((x) => x.id === streamId);
        if (!s) throw new Error('the bench stream is gone');
        return s;
      };
      let counted = 0;
      let top = 0;
      const highest = () => {
        const arrived = destination.events();
        for (; counted < arrived.length; counted++) top = Math.max(top, arrived[counted]?.sequence ?? 0);
        return top;
      };

      // The gateway's own figure (`logStreams { lag }`, every 500 ms: the query has a cost), and
      // one from sequences every 50 ms here: events acknowledged to the writer minus the highest
      // sequence that arrived.
      const lags: { at: number; lag: number }[] = [];
      const seqLags: { at: number; lag: number }[] = [];
      const acked = new Map<string, number>();
      let everFailing = false;
      let ingesting = true;
      const cpu = await opts.cpu();
      const start = performance.now();
      const polling = (async () => {
        while (ingesting) {
          const s = await lagNow();
          everFailing ||= s.failing;
          lags.push({ at: performance.now() - start, lag: s.lag });
          await sleep(500);
        }
      })();
      const sampling = setInterval(
        () => seqLags.push({ at: performance.now() - start, lag: Math.max(0, acked.size - highest()) }),
        50,
      );
      const sent = await run.ingest(t.key, acked);
      const ingestMs = performance.now() - start;
      clearInterval(sampling);
      const used = await cpu();
      const deliveredDuringIngest = highest();
      const lagAtStop = (await lagNow()).lag;
      ingesting = false;
      await polling;
      // Drained: the receiver holds the last committed sequence (a new tenant's chain starts at 1).
      const deadline = performance.now() + 120_000;
      while (highest() < sent && performance.now() < deadline) await sleep(5);
      const drainMs = performance.now() - start - ingestMs;
      const events = destination.events();
      const half = ingestMs / 2;
      const maxLag = (xs: { lag: number }[]) => Math.max(0, ...xs.map((x) => x.lag));
      const row = {
        gateway: opts.label,
        destination: destination.kind,
        run: run.name,
        sent,
        ingestPerSec: Math.round(sent / (ingestMs / 1000)),
        deliveredPerSec: Math.round(deliveredDuringIngest / (ingestMs / 1000)),
        // Of one core, over the ingest: the gateway process, and the Postgres backends serving it.
        gatewayCpuPct: used ? Math.round((used.server / (ingestMs / 1000)) * 100) : null,
        databaseCpuPct: used ? Math.round((used.database / (ingestMs / 1000)) * 100) : null,
        maxLag: maxLag(lags),
        seqLagMaxFirstHalf: maxLag(seqLags.filter((l) => l.at < half)),
        seqLagMaxSecondHalf: maxLag(seqLags.filter((l) => l.at >= half)),
        lagAtStop,
        drainMs: Math.round(drainMs),
        delivered: events.length,
        inOrderOnce: events.length === sent && deliveredInOrder(events, sent),
        badSignatures: destination.badSignatures(),
        everFailing,
      };
      console.log(JSON.stringify(row));
      rows.push(row);
      await destination.close();
    }
  return rows;
}
