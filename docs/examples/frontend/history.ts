// The browser's history: Apollo Client pages through `auditEvents` with relayStylePagination,
// presenting the viewer token its backend minted. docs/frontend.md explains it; the browser test
// (test/frontend-browser.test.ts) bundles this file into its page.
import {
  ApolloClient,
  ApolloLink,
  gql,
  HttpLink,
  InMemoryCache,
  type TypedDocumentNode,
} from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { relayStylePagination } from '@apollo/client/utilities';
import { tap } from 'rxjs';

export type AuditEventFilter = { actions?: string[]; actorIds?: string[]; groupIds?: string[] };

export type AuditEventRow = {
  id: string;
  sequence: number;
  action: string;
  occurredAt: string;
  groupId: string | null;
  actor: { id: string | null; email: string | null } | null;
};

/** The fields a row shows; the live tail (live-tail.ts) selects the same ones. */
export const AUDIT_EVENT_ROW = gql`
  fragment AuditEventRow on AuditEvent {
    id
    sequence
    action
    occurredAt
    groupId
    actor {
      id
      email
    }
  }
`;

type History = {
  auditEvents: {
    edges: { cursor: string; node: AuditEventRow }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    streamPosition: string;
  };
};
type HistoryVariables = { first: number; after?: string | null; filter?: AuditEventFilter | null };

/** Newest first. `streamPosition` is where the live tail starts so that it continues this page. */
export const AUDIT_HISTORY: TypedDocumentNode<History, HistoryVariables> = gql`
  query AuditHistory($first: Int!, $after: String, $filter: AuditEventFilter) {
    auditEvents(first: $first, after: $after, filter: $filter) {
      edges {
        cursor
        node {
          ...AuditEventRow
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      streamPosition
    }
  }
  ${AUDIT_EVENT_ROW}
`;

export type AuditClientOptions = {
  gatewayUrl: string;
  /** The current viewer token (your backend mints it; see backend.ts). */
  getToken: () => Promise<string>;
  /** Called with each answer's X-Request-Id, the id to quote when asking the gateway's operators. */
  onRequestId?: (id: string | null) => void;
};

export function createAuditClient({ gatewayUrl, getToken, onRequestId }: AuditClientOptions) {
  const auth = new SetContextLink(async (context) => ({
    headers: { ...context.headers, Authorization: `Bearer ${await getToken()}` },
  }));
  const requestId = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap(() => onRequestId?.(operation.getContext().response?.headers.get('X-Request-Id') ?? null)),
    ),
  );
  return new ApolloClient({
    link: ApolloLink.from([auth, requestId, new HttpLink({ uri: `${gatewayUrl}/graphql` })]),
    cache: new InMemoryCache({
      typePolicies: {
        // One list per filter: fetchMore appends the next page to it instead of replacing it.
        Query: { fields: { auditEvents: relayStylePagination(['filter']) } },
      },
    }),
  });
}

export type HistoryView = {
  edges: { cursor: string; node: AuditEventRow }[];
  hasNextPage: boolean;
  /** Of the first page, read in the same snapshot as it. Later pages carry later positions: keep this one. */
  streamPosition: string;
};

/**
 * Watches the history: `onChange` gets every page loaded so far, merged by relayStylePagination.
 * `loadOlder` fetches the next page after the last cursor.
 */
export function watchHistory(
  client: ApolloClient,
  {
    filter,
    pageSize,
    onChange,
    onError,
  }: {
    filter?: AuditEventFilter;
    pageSize: number;
    onChange: (view: HistoryView) => void;
    onError: (error: Error) => void;
  },
) {
  const query = client.watchQuery({
    query: AUDIT_HISTORY,
    variables: { first: pageSize, filter: filter ?? null },
  });
  let firstPosition: string | undefined;
  let endCursor: string | null = null;
  const subscription = query.subscribe({
    next: ({ data, dataState, error }) => {
      if (error) return onError(error);
      if (dataState !== 'complete') return;
      const { edges, pageInfo, streamPosition } = data.auditEvents;
      firstPosition ??= streamPosition;
      endCursor = pageInfo.endCursor;
      onChange({ edges, hasNextPage: pageInfo.hasNextPage, streamPosition: firstPosition });
    },
    error: onError,
  });
  return {
    loadOlder: () => query.fetchMore({ variables: { after: endCursor } }),
    stop: () => subscription.unsubscribe(),
  };
}
