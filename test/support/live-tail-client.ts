// A live tail client over real HTTP: the graphql-sse "distinct connections" request (POST
// /graphql, Accept: text/event-stream) read with Node's fetch and a small SSE parser, so a test
// can also stop reading (a slow consumer).

import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import type { Gateway } from '../../src/gateway.ts';
import { listen, type RunningServer } from '../../src/http/server.ts';

export const STREAM_QUERY = `subscription Tail($filter: AuditEventFilter, $after: String) {
  auditEventStream(filter: $filter, after: $after) { cursor node { id sequence action occurredAt actor { id } } }
}`;

export type StreamedEdge = {
  cursor: string;
  node: {
    id: string;
    sequence: number;
    action: string;
    occurredAt: string;
    actor: { id: string | null } | null;
  };
};

export type StreamError = { message: string; extensions?: { code?: string; lastCursor?: string } };

/** One SSE message: `next` (a GraphQL result), `complete`, or a comment (heartbeat). */
export type SseMessage =
  | { event: 'next'; data: { data?: { auditEventStream: StreamedEdge } | null; errors?: StreamError[] } }
  | { event: 'complete' }
  | { event: 'comment' };

export class TailStream {
  readonly #messages: SseMessage[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  readonly #abort = new AbortController();
  status = 0;

  constructor(private readonly response: Promise<Response>) {}

  /** Resolves once the server answered (the subscription is open): its status. */
  async opened(): Promise<number> {
    return (await this.response).status;
  }

  /** Reads the response as it arrives. */
  async pump(): Promise<void> {
    const res = await this.response;
    this.status = res.status;
    if (!res.body) return this.#end();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          this.#parse(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch {
      // Aborted by close().
    }
    this.#end();
  }

  #parse(block: string) {
    const lines = block.split('\n');
    if (lines.every((l) => l.startsWith(':'))) {
      this.#push({ event: 'comment' });
      return;
    }
    const event = lines
      .find((l) => l.startsWith('event:'))
      ?.slice(6)
      .trim();
    const data = lines
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trimStart())
      .join('\n');
    if (event === 'next') this.#push({ event: 'next', data: JSON.parse(data) });
    else if (event === 'complete') this.#push({ event: 'complete' });
  }

  #push(m: SseMessage) {
    this.#messages.push(m);
    for (const w of this.#waiters.splice(0)) w();
  }

  #end() {
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The next message other than a comment; throws after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#messages.findIndex((m) => m.event !== 'comment');
      if (i >= 0) return this.#messages.splice(0, i + 1).at(-1) as SseMessage;
      if (this.#ended) throw new Error('the stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `count` events; fails on an error or the end of the stream. */
  async edges(count: number, timeoutMs = 10_000): Promise<StreamedEdge[]> {
    const out: StreamedEdge[] = [];
    while (out.length < count) {
      const m = await this.next(timeoutMs);
      if (m.event !== 'next' || !m.data.data) {
        throw new Error(`expected an event, got ${JSON.stringify(m)}`);
      }
      out.push(m.data.data.auditEventStream);
    }
    return out;
  }

  /** The error that ends the stream, after any events before it (returned too). */
  async endError(timeoutMs = 10_000): Promise<{ before: StreamedEdge[]; error: StreamError }> {
    const before: StreamedEdge[] = [];
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.event !== 'next') throw new Error(`expected an error, got ${JSON.stringify(m)}`);
      if (m.data.errors?.[0]) return { before, error: m.data.errors[0] };
      if (m.data.data) before.push(m.data.data.auditEventStream);
    }
  }

  /** Nothing but heartbeats for `ms`. */
  async expectQuiet(ms: number): Promise<void> {
    await expectNoMessage(this, ms);
  }

  get ended(): boolean {
    return this.#ended;
  }

  close(): void {
    this.#abort.abort();
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}

async function expectNoMessage(s: TailStream, ms: number) {
  try {
    const m = await s.next(ms);
    throw new Error(`expected no message, got ${JSON.stringify(m)}`);
  } catch (error) {
    if ((error as Error).message.startsWith('expected no message')) throw error;
    if ((error as Error).message === 'the stream ended') throw error;
  }
}

/**
 * Opens a stream. `read: false` leaves the body unread (a consumer that stopped reading); call
 * `pump()` to start reading it.
 */
export function openTail(
  baseUrl: string,
  key: string,
  variables: { filter?: Record<string, unknown>; after?: string } = {},
  { read = true, query = STREAM_QUERY }: { read?: boolean; query?: string } = {},
): TailStream {
  const abort = new AbortController();
  const init = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${key}`,
    },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  };
  // A client that stops reading is Node's http client with its response left paused: it takes
  // no more than its socket and stream buffers hold (fetch's body may buffer more on its own).
  const response = read ? fetch(`${baseUrl}/graphql`, init) : pausedRequest(`${baseUrl}/graphql`, init);
  const stream = new TailStream(response);
  stream.signal.addEventListener('abort', () => abort.abort());
  response.catch(() => {});
  if (read) void stream.pump();
  return stream;
}

function pausedRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers, signal: init.signal }, (res) => {
      res.pause();
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers))
        if (typeof value === 'string') headers.set(name, value);
      resolve(
        new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, {
          status: res.statusCode ?? 0,
          headers,
        }),
      );
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Serves a gateway on a free loopback port (a real HTTP server, as `serve` runs it). */
export async function serveGateway(gateway: Gateway): Promise<RunningServer> {
  return listen(
    gateway,
    { host: '127.0.0.1', port: 0, shutdownTimeoutSeconds: 5 },
    pino({ level: 'silent' }),
  );
}
