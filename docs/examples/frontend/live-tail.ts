// The browser's live tail: a GraphQL subscription over Server-Sent Events with the graphql-sse
// client (fetch-based, because EventSource cannot send Authorization). It starts where a history
// page left off (its `streamPosition`) and, when the stream drops, resumes from the last cursor it
// delivered, so the page sees every later event once. docs/frontend.md explains it; the browser
// test (test/frontend-browser.test.ts) bundles this file into its page.
import { print } from 'graphql';
import { createClient, type ExecutionResult, NetworkError } from 'graphql-sse';
import { AUDIT_EVENT_ROW, type AuditEventFilter, type AuditEventRow } from './history.ts';

export const AUDIT_EVENT_STREAM = `
  subscription AuditEventStream($after: String, $filter: AuditEventFilter) {
    auditEventStream(after: $after, filter: $filter) {
      cursor
      node {
        ...AuditEventRow
      }
    }
  }
  ${print(AUDIT_EVENT_ROW)}
`;

type StreamResult = ExecutionResult<{ auditEventStream: { cursor: string; node: AuditEventRow } }>;

export type TailState =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'retrying'; code: string; inMs: number }
  | { state: 'stopped'; code: string; message: string };

export type TailOptions = {
  gatewayUrl: string;
  /** The viewer token; `refresh: true` after the gateway refused it (expired), to get a new one. */
  getToken: (options: { refresh: boolean }) => Promise<string>;
  /** A history page's `streamPosition`, or a cursor this function delivered before. */
  after: string;
  filter?: AuditEventFilter;
  onEvent: (event: AuditEventRow, cursor: string) => void;
  onState?: (state: TailState) => void;
};

/** Errors that the same request will meet again: stop instead of retrying. */
const FINAL = new Set(['FORBIDDEN', 'BAD_REQUEST', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED']);

/** A connection that lasted this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_MS = 10_000;

type Ended = { code: string; message: string };

/** Refusals before the stream starts come as HTTP statuses (graphql-sse reports them as a NetworkError). */
function refusal(error: unknown): Ended {
  const status = error instanceof NetworkError ? error.response?.status : undefined;
  const code =
    status === 401
      ? 'UNAUTHENTICATED'
      : status === 403
        ? 'FORBIDDEN'
        : status === 400
          ? 'BAD_REQUEST'
          : status === 429
            ? 'RATE_LIMITED'
            : 'NETWORK';
  return { code, message: error instanceof Error ? error.message : String(error) };
}

export function followAuditEvents({ gatewayUrl, getToken, after, filter, onEvent, onState }: TailOptions) {
  let cursor = after;
  let stopped = false;
  let failures = 0;
  let renewToken = false;
  let renewedInARow = false;
  let unsubscribe = () => {};
  const client = createClient({
    url: `${gatewayUrl}/graphql`,
    headers: async () => {
      const refresh = renewToken;
      renewToken = false;
      return { Authorization: `Bearer ${await getToken({ refresh })}` };
    },
    // The client's own retries would send the first `after` again, and so repeat events: this loop
    // resumes from the last delivered cursor instead.
    retryAttempts: 0,
  });

  /** One connection, until it ends: why it ended (null: the server completed it) and whether it was healthy. */
  const connectOnce = () =>
    new Promise<{ ended: Ended | null; healthy: boolean }>((resolve) => {
      let ended: Ended | null = null;
      let connectedAt: number | undefined;
      let delivered = false;
      const done = (why: Ended | null) =>
        resolve({
          ended: why,
          healthy: delivered || (connectedAt !== undefined && Date.now() - connectedAt >= HEALTHY_MS),
        });
      unsubscribe = client.subscribe(
        { query: AUDIT_EVENT_STREAM, variables: { after: cursor, filter: filter ?? null } },
        {
          next: (result: StreamResult) => {
            const edge = result.data?.auditEventStream;
            if (edge) {
              cursor = edge.cursor;
              delivered = true;
              onEvent(edge.node, edge.cursor);
            }
            const error = result.errors?.[0];
            if (error) {
              // The server ends a stream with one error: its code says why, lastCursor where to resume.
              const extensions = (error.extensions ?? {}) as { code?: string; lastCursor?: string };
              if (extensions.lastCursor) cursor = extensions.lastCursor;
              ended = { code: extensions.code ?? 'ERROR', message: error.message };
            }
          },
          error: (error: unknown) => done(refusal(error)),
          complete: () => done(ended),
        },
        {
          connecting: () => onState?.({ state: 'connecting' }),
          connected: () => {
            connectedAt = Date.now();
            onState?.({ state: 'live' });
          },
        },
      );
    });

  (async () => {
    while (!stopped) {
      const { ended, healthy } = await connectOnce();
      if (stopped) break;
      if (healthy) {
        failures = 0;
        renewedInARow = false;
      }
      if (ended && FINAL.has(ended.code)) {
        onState?.({ state: 'stopped', ...ended });
        break;
      }
      // An expired token is renewed at once (once in a row); anything else (a dropped connection, a
      // restart, SHUTTING_DOWN, SLOW_CONSUMER, STREAM_LIMIT) waits a growing, jittered delay.
      const renew: boolean = ended?.code === 'UNAUTHENTICATED' && !renewedInARow;
      renewedInARow = renew;
      renewToken = ended?.code === 'UNAUTHENTICATED';
      const inMs = renew ? 0 : Math.min(30_000, 500 * 2 ** failures++) * (0.5 + Math.random() / 2);
      onState?.({ state: 'retrying', code: ended?.code ?? 'COMPLETED', inMs });
      await new Promise((resolve) => setTimeout(resolve, inMs));
    }
  })();

  return {
    /** The cursor to resume from later, e.g. after the page is reloaded (keep it in sessionStorage). */
    lastCursor: () => cursor,
    stop: () => {
      stopped = true;
      unsubscribe();
      client.dispose();
    },
  };
}
