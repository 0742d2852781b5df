// A page that shows the signed-in user's audit log: it asks its own backend for a viewer token
// (backend.ts), pages through the history (history.ts), then follows the live tail from the first
// page's stream position (live-tail.ts). docs/frontend.md explains it; the browser test
// (test/frontend-browser.test.ts) bundles this file and serves it from a second origin.
import type { AuditToken } from './backend.ts';
import { type AuditEventRow, createAuditClient, watchHistory } from './history.ts';
import { followAuditEvents } from './live-tail.ts';

let pending: Promise<AuditToken> | undefined;
let renewAt = 0;

/**
 * The viewer token, from your backend (its session cookie says who is signed in): one request
 * shared by concurrent callers, renewed a minute before it expires or when the gateway refused it.
 */
function auditToken({ refresh = false } = {}): Promise<AuditToken> {
  if (!pending || refresh || Date.now() >= renewAt) {
    renewAt = Number.POSITIVE_INFINITY; // while it is on its way
    const asked = fetch('/api/audit-token', { method: 'POST' }).then(async (res) => {
      if (!res.ok) throw new Error(`the backend gave no audit token: ${res.status}`);
      return (await res.json()) as AuditToken;
    });
    pending = asked;
    asked.then(
      (token) => {
        if (pending === asked) renewAt = Date.parse(token.expiresAt) - 60_000;
      },
      () => {
        if (pending === asked) pending = undefined;
      },
    );
  }
  return pending;
}

const root = document.getElementById('audit-log') ?? document.body;
const status = element('p', { id: 'status' });
const requestId = element('code', { id: 'request-id' });
const live = element('ol', { id: 'live' });
const history = element('ol', { id: 'history' });
const older = element('button', { id: 'older', hidden: true, textContent: 'Older events' });
root.append(status, element('p', { textContent: 'Last request: ' }, requestId), live, history, older);

// An event that arrives live but occurred long ago also turns up in an older page: show it once.
const liveIds = new Set<string>();
let historyIds = new Set<string>();

function setStatus(state: string, text = state) {
  status.dataset.state = state;
  status.textContent = text;
}

function row(event: AuditEventRow): HTMLLIElement {
  // textContent, never innerHTML: every field of an event is whatever its producer sent.
  const who = event.actor?.email ?? event.actor?.id ?? 'system';
  return element('li', {
    textContent: `${event.occurredAt} ${event.action} by ${who}${event.groupId ? ` in ${event.groupId}` : ''}`,
    dataset: { id: event.id, sequence: String(event.sequence) },
  });
}

async function main() {
  setStatus('loading');
  const { gatewayUrl } = await auditToken();
  const client = createAuditClient({
    gatewayUrl,
    getToken: async () => (await auditToken()).token,
    onRequestId: (id) => {
      requestId.textContent = id ?? '';
    },
  });
  let tail: ReturnType<typeof followAuditEvents> | undefined;
  const view = watchHistory(client, {
    pageSize: 5,
    onError: (error) => setStatus('failed', `failed: ${error.message}`),
    onChange: ({ edges, hasNextPage, streamPosition }) => {
      historyIds = new Set(edges.map((e) => e.node.id));
      history.replaceChildren(...edges.filter((e) => !liveIds.has(e.node.id)).map((e) => row(e.node)));
      older.hidden = !hasNextPage;
      if (tail) return;
      setStatus('history');
      tail = followAuditEvents({
        gatewayUrl,
        after: streamPosition,
        getToken: async ({ refresh }) => (await auditToken({ refresh })).token,
        onEvent: (event) => {
          live.dataset.delivered = String(Number(live.dataset.delivered ?? 0) + 1); // how many the stream sent
          if (liveIds.has(event.id) || historyIds.has(event.id)) return;
          liveIds.add(event.id);
          live.prepend(row(event));
        },
        onState: (s) =>
          setStatus(s.state, s.state === 'live' ? 'live' : `${s.state}${'code' in s ? `: ${s.code}` : ''}`),
      });
    },
  });
  older.addEventListener('click', async () => {
    older.disabled = true;
    try {
      const { data } = await view.loadOlder();
      older.hidden = !data?.auditEvents.pageInfo.hasNextPage;
    } finally {
      older.disabled = false;
    }
  });
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  {
    dataset,
    ...props
  }: Partial<Omit<HTMLElementTagNameMap[K], 'dataset'>> & { dataset?: Record<string, string> } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children);
  return node;
}

main().catch((error: unknown) =>
  setStatus('failed', `failed: ${error instanceof Error ? error.message : String(error)}`),
);
