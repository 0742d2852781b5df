// A real webhook receiver on a random local port, for log stream tests: it checks each batch's
// signature, records what arrived in order, and fails on purpose (500s, or not listening at all).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedEvent = { id: string; sequence: number; tenant: string; action: string };
export type ReceivedBatch = { tenant: string; destination: string; events: ReceivedEvent[] };

export type Receiver = {
  url: string;
  /** Every batch that was acknowledged with a 2xx, in arrival order. */
  batches: ReceivedBatch[];
  /** Every request, acknowledged or not. */
  requests: number;
  /** Answer 500 while set. */
  failing: boolean;
  /** Wait this long before answering (to catch a delivery in flight). */
  delayMs: number;
  /** The secret batches must be signed with; set once the stream is created. */
  secret: string | undefined;
  badSignatures: number;
  /** The most requests it was ever answering at the same time. */
  maxInFlight: number;
  /** Stop listening (connections refused) / listen again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Acknowledged events in arrival order, redeliveries included. */
  events(): ReceivedEvent[];
  close(): Promise<void>;
};

/** The check a receiver does, as the README shows it. */
export function verifySignature(
  secret: string,
  header: string,
  body: string,
  toleranceSeconds = 300,
): boolean {
  const parts = new Map(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
}

export async function startReceiver(): Promise<Receiver> {
  let server: Server | undefined;
  let port = 0;
  const receiver: Receiver = {
    url: '',
    batches: [],
    requests: 0,
    failing: false,
    delayMs: 0,
    secret: undefined,
    badSignatures: 0,
    maxInFlight: 0,
    down: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    up: async () => {
      let inFlight = 0;
      const s = createServer((req, res) => {
        inFlight++;
        receiver.maxInFlight = Math.max(receiver.maxInFlight, inFlight);
        res.on('close', () => inFlight--);
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          receiver.requests++;
          const body = Buffer.concat(chunks).toString('utf8');
          setTimeout(() => {
            if (receiver.failing) {
              res.writeHead(500).end('failing on purpose');
              return;
            }
            const signature = String(req.headers['audit-signature'] ?? '');
            if (!receiver.secret || !verifySignature(receiver.secret, signature, body)) {
              receiver.badSignatures++;
              res.writeHead(401).end('bad signature');
              return;
            }
            receiver.batches.push(JSON.parse(body) as ReceivedBatch);
            res.writeHead(204).end();
          }, receiver.delayMs);
        });
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', () => resolve()));
      port = (s.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}/audit-hook`;
      server = s;
    },
    events: () => receiver.batches.flatMap((b) => b.events),
    close: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}

/**
 * Checks at-least-once, in-order delivery of sequences 1..count: every sequence arrives, and none
 * arrives before all lower ones have (a redelivery may repeat earlier ones, never skip ahead).
 */
export function deliveredInOrder(events: { sequence: number }[], count: number): boolean {
  let highest = 0;
  for (const e of events) {
    if (e.sequence > highest + 1) return false;
    highest = Math.max(highest, e.sequence);
  }
  return highest === count && new Set(events.map((e) => e.sequence)).size === count;
}

/** Polls `check` until it holds (no wall-clock assertion: the test's own timeout bounds it). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  everyMs = 20,
) {
  for (;;) {
    const value = await check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
