// The browser's live tail: a GraphQL subscription over Server-Sent Events with the graphql-sse
// client (fetch-based, because EventSource cannot send Authorization). It starts where a history
// page left off (its `streamPosition`) and, when the stream drops, resumes from the last cursor it
// delivered, so the page sees every later event once. docs/frontend.md explains it; the browser
// test (test/frontend-browser.test.ts) bundles this file into its page.
import { print } from 'graphql';
import { createClient, type ExecutionResult } from 'graphql-sse';
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
const FINAL = new Set(['FORBIDDEN', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED']);

export function followAuditEvents({ gatewayUrl, getToken, after, filter, onEvent, onState }: TailOptions) {
  let cursor = after;
  let refreshToken = false;
  let stopped = false;
  let failures = 0;
  let unsubscribe = () => {};
  const client = createClient({
    url: `${gatewayUrl}/graphql`,
    headers: async () => ({ Authorization: `Bearer ${await getToken({ refresh: refreshToken })}` }),
    // The client's own retries would send the first `after` again, and so repeat events: this loop
    // resumes from the last delivered cursor instead.
    retryAttempts: 0,
  });

  /** One connection, until it ends: the code of the error that ended it, or null when the server completed it. */
  const connectOnce = () =>
    new Promise<{ code: string; message: string } | null>((resolve) => {
      let ended: { code: string; message: string } | null = null;
      unsubscribe = client.subscribe(
        { query: AUDIT_EVENT_STREAM, variables: { after: cursor, filter: filter ?? null } },
        {
          next: (result: StreamResult) => {
            const edge = result.data?.auditEventStream;
            if (edge) {
              cursor = edge.cursor;
              failures = 0;
              refreshToken = false;
              onEvent(edge.node, edge.cursor);
            }
            const error = result.errors?.[0];
            if (error) {
              const extensions = (error.extensions ?? {}) as { code?: string; lastCursor?: string };
              if (extensions.lastCursor) cursor = extensions.lastCursor;
              ended = { code: extensions.code ?? 'ERROR', message: error.message };
            }
          },
          error: (error: unknown) =>
            resolve({ code: 'NETWORK', message: error instanceof Error ? error.message : String(error) }),
          complete: () => resolve(ended),
        },
        {
          connecting: () => onState?.({ state: 'connecting' }),
          connected: () => onState?.({ state: 'live' }),
        },
      );
    });

  (async () => {
    while (!stopped) {
      const ended = await connectOnce();
      if (stopped) break;
      if (ended && FINAL.has(ended.code)) {
        onState?.({ state: 'stopped', ...ended });
        break;
      }
      // An expired token is renewed at once (and only once in a row); anything else (a dropped
      // connection, a restart, SLOW_CONSUMER, STREAM_LIMIT) waits a growing, jittered delay.
      const renew = ended?.code === 'UNAUTHENTICATED' && !refreshToken;
      refreshToken = ended?.code === 'UNAUTHENTICATED';
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
