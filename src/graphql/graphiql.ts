// GraphiQL served by the gateway itself, for machines that cannot reach a CDN: the page, its
// assets (taken from the installed @graphql-yoga/render-graphiql bundle), a Content-Security-Policy
// that allows nothing but this origin, and the example tabs an analyst opens it with.

import { createHash } from 'node:crypto';
import type { GraphiQLOptions } from 'graphql-yoga';
import type { MiddlewareHandler } from 'hono';

export const GRAPHIQL_ASSETS_PATH = '/graphiql/assets';

/**
 * The page loads scripts, styles, workers and data only from this origin. Styles need
 * 'unsafe-inline': the Monaco editor and GraphiQL write <style> elements at run time and offer no
 * nonce hook. Scripts get no such exception: the page has no inline script at all.
 */
export const GRAPHIQL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export type ExampleTab = {
  /** The operation name, which GraphiQL shows as the tab's title. */
  name: string;
  query: string;
  /** Variables as an object; times are filled in relative to when the page is opened. */
  variables?: (now: Date) => Record<string, unknown>;
};

export const EXAMPLE_QUERY = `# Your tenant's newest audit events. Press ▶ (or Ctrl+Enter) to run.
# Paging: pass pageInfo.endCursor as "after" to get the next page.
query RecentEvents {
  viewer { tenant { slug } scopes }
  auditEvents(first: 10, orderBy: { field: OCCURRED_AT, direction: DESC }) {
    totalCount
    edges {
      node {
        id
        occurredAt
        action
        actor { email name type }
        target { kind id name }
        ipAddress
      }
    }
    pageInfo { hasNextPage endCursor }
  }
  availableFilters {
    actions
    targetKinds { name actions }
  }
}
`;

const DAY_MS = 86_400_000;

/** The tabs GraphiQL opens with, in order; the first one is EXAMPLE_QUERY. */
export const EXAMPLE_TABS: readonly ExampleTab[] = [
  { name: 'RecentEvents', query: EXAMPLE_QUERY },
  {
    name: 'FailedSignIns',
    query: `# Failed sign-ins in a time window, newest first, with where they came from.
# Change the window in Variables: since is inclusive, until exclusive, both RFC 3339 with a zone.
query FailedSignIns($since: DateTime!, $until: DateTime!, $actions: [String!] = ["SIGN_IN_FAILURE"]) {
  auditEvents(first: 50, filter: { actions: $actions, since: $since, until: $until }) {
    totalCount
    edges {
      node { occurredAt action actor { email name } ipAddress target { kind id name } }
    }
  }
}
`,
    variables: (now) => ({
      since: new Date(now.getTime() - 30 * DAY_MS).toISOString(),
      until: now.toISOString(),
    }),
  },
  {
    name: 'ActorActivity',
    query: `# Everything one person did, newest first. Put one of your actors' emails in Variables
# (availableFilters and the RecentEvents tab show who is there).
query ActorActivity($email: EmailAddress!) {
  auditEvents(first: 50, filter: { actorEmails: [$email] }) {
    totalCount
    edges {
      node { occurredAt action target { kind id name } ipAddress description }
    }
  }
}
`,
    variables: () => ({ email: 'ada.lovelace@acme.example' }),
  },
  {
    name: 'Search',
    query: `# Free text: every word must occur in the action, name, title, description, actor name or
# email, target name or id, or a metadata value, also inside longer words. Case and accents are
# ignored; each word needs 3 letters or digits in a row. Try an email, an invoice or request id.
query Search($search: String!) {
  auditEvents(first: 20, filter: { search: $search }) {
    totalCount
    edges {
      node { occurredAt action actor { email name } target { kind id name } description metadata }
    }
  }
}
`,
    variables: () => ({ search: 'roadmap' }),
  },
  {
    name: 'NextPage',
    query: `# Paging through events: run it, copy pageInfo.endCursor into "after" in Variables, run again.
# Keep the same filter and order between pages; pages never skip or repeat an event.
query NextPage($after: String) {
  auditEvents(first: 20, after: $after, orderBy: { field: OCCURRED_AT, direction: DESC }) {
    edges {
      cursor
      node { sequence occurredAt action actor { email } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`,
    variables: () => ({ after: null }),
  },
  {
    name: 'Histogram',
    query: `# Sign-in failures per day this month, in your time zone, and who had the most.
# Days are local calendar days (23 or 25 hours when daylight saving changes); empty days count 0.
# groups lists the top actors; other counts everyone else, so the numbers add up to total.
query Histogram($since: DateTime!, $timeZone: String = "Europe/Berlin", $actions: [String!] = ["SIGN_IN_FAILURE"]) {
  auditEventCounts(
    filter: { actions: $actions, since: $since }
    interval: DAY
    timeZone: $timeZone
    groupBy: [ACTOR]
    first: 5
  ) {
    total
    buckets { start count }
    groups { key { actorId } count }
    other
  }
}
`,
    variables: (now) => ({ since: new Date(now.getTime() - 30 * DAY_MS).toISOString() }),
  },
  {
    name: 'ExportEvents',
    query: `# Export what a filter matches, as a file: the same filter vocabulary, as query parameters
# (repeat a list filter: actions=a&actions=b). totalCount below is how many rows you will get;
# the events come in sequence order, as below.
# CSV for a spreadsheet (cells that could run as formulas get a leading '), with a BOM for Excel:
#   /v1/exports/events.csv?actions=SIGN_IN_FAILURE&since=2026-01-01T00:00:00Z&bom=true
# NDJSON as evidence, checked offline by \`audit-gateway verify --file\`:
#   /v1/exports/events.ndjson?actions=SIGN_IN_FAILURE&since=2026-01-01T00:00:00Z
# Both need the key from Headers: curl -H "Authorization: Bearer <key>" -o events.csv "<link>".
# A broken download resumes with &after=<the cursor of the last row or line you got>.
query ExportEvents($since: DateTime!, $actions: [String!] = ["SIGN_IN_FAILURE"]) {
  auditEvents(first: 3, filter: { actions: $actions, since: $since }, orderBy: { field: OCCURRED_AT, direction: ASC }) {
    totalCount
    edges { node { sequence occurredAt action actor { email } } }
  }
}
`,
    variables: (now) => ({ since: new Date(now.getTime() - 30 * DAY_MS).toISOString() }),
  },
  {
    name: 'VerifyChain',
    query: `# Recompute your hash chain and check it against the signed checkpoints.
query VerifyChain {
  verifyChain { intact eventsChecked checkpointsChecked headSequence signedThrough break { kind sequence detail } }
  checkpoints(first: 5) { sequence hash signedAt keyId }
}
`,
  },
  {
    name: 'WhoRead',
    query: `# Who read your events this week: every read through GraphQL or a REST dialect, newest first.
# Needs a key with the read_log scope (the demo key has it).
query WhoRead($since: DateTime) {
  auditReads(first: 20, filter: { since: $since, kinds: [EVENTS, LOOKUP, COUNT] }) {
    edges { node { at keyId viewerTokenId restriction { actorIds } surface operation kind filter clientAddress events } }
    pageInfo { hasNextPage endCursor }
  }
}
`,
    variables: (now) => ({ since: new Date(now.getTime() - 7 * 86_400_000).toISOString() }),
  },
];

/** GraphiQL's options for one page view: the example tabs, each with the given headers. */
export function graphiqlOptions(apiKey: string | undefined, now: Date): GraphiQLOptions {
  const headers = JSON.stringify({ Authorization: `Bearer ${apiKey ?? '<paste an API key here>'}` }, null, 2);
  return {
    title: 'Audit gateway',
    defaultTabs: EXAMPLE_TABS.map((tab) => ({
      query: tab.query,
      variables: tab.variables ? JSON.stringify(tab.variables(now), null, 2) : null,
      headers,
    })),
    defaultHeaders: headers,
    shouldPersistHeaders: false,
  };
}

type Asset = { body: string | Uint8Array<ArrayBuffer>; type: string };
type Assets = { version: string; files: Map<string, Asset> };

/**
 * Runs before GraphiQL's bundle: tells Monaco where its workers are (same origin, so the CSP
 * needs no blob: URLs) and renders GraphiQL with the options the page carries as JSON.
 */
const START_SCRIPT = `'use strict';
(function () {
  var base = document.currentScript.src.replace(/[^/]*$/, '');
  var workers = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' };
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) { return base + (workers[label] || workers.editorWorkerService); },
  };
  document.addEventListener('DOMContentLoaded', function () {
    var options = JSON.parse(document.getElementById('graphiql-options').textContent);
    YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
  });
})();
`;

/**
 * GraphiQL's tabs are drag-to-reorder items that keep a stale offset after the first layout; its
 * own stylesheet hides it only while a tab is not focused, so pressing a tab made it jump away
 * from under the pointer and the click was lost. Tabs still reorder by dragging, without the slide.
 */
const TAB_FIX_CSS = '\n.graphiql-tab{transform:none!important}\n';

let loading: Promise<Assets> | undefined;

/** Loads the bundle once, on the first GraphiQL view (it is 9 MB; most processes never need it). */
function loadAssets(): Promise<Assets> {
  loading ??= import('@graphql-yoga/render-graphiql/graphiql').then((bundle) => {
    const files = new Map<string, Asset>([
      ['start.js', { body: START_SCRIPT, type: 'text/javascript; charset=utf-8' }],
      ['graphiql.js', { body: bundle.js, type: 'text/javascript; charset=utf-8' }],
      ['graphiql.css', { body: bundle.css + TAB_FIX_CSS, type: 'text/css; charset=utf-8' }],
      ['editor.worker.js', { body: bundle.editorWorkerService, type: 'text/javascript; charset=utf-8' }],
      ['json.worker.js', { body: bundle.jsonWorker, type: 'text/javascript; charset=utf-8' }],
      ['graphql.worker.js', { body: bundle.graphqlWorker, type: 'text/javascript; charset=utf-8' }],
      ['favicon.ico', { body: dataUriBytes(bundle.favicon), type: 'image/x-icon' }],
    ]);
    // Content-addressed: a new bundle or start script gets a new URL, so assets can be cached forever.
    const hash = createHash('sha256');
    for (const [name, asset] of files) hash.update(name).update(asset.body);
    return { version: hash.digest('hex').slice(0, 16), files };
  });
  return loading;
}

function dataUriBytes(uri: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(uri.slice(uri.indexOf(',') + 1), 'base64'));
}

/** Yoga's renderGraphiQL: the page, which references only same-origin assets and has no inline script. */
export async function renderGraphiQLPage(options: GraphiQLOptions): Promise<string> {
  const { version } = await loadAssets();
  const base = `${GRAPHIQL_ASSETS_PATH}/${version}`;
  // In a <script type="application/json"> only "<" could end the element early.
  const json = JSON.stringify(options).replace(/</g, '\\u003c');
  const title = escapeHtml(options.title ?? 'GraphiQL');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="${base}/favicon.ico">
<link rel="stylesheet" href="${base}/graphiql.css">
<script type="application/json" id="graphiql-options">${json}</script>
<script src="${base}/start.js"></script>
<script src="${base}/graphiql.js"></script>
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root">Loading ${title}…</div>
</body>
</html>
`;
}

/** The response for GET /graphiql/assets/:version/:file. */
export async function graphiqlAsset(version: string, file: string): Promise<Response> {
  const assets = await loadAssets();
  const asset = assets.files.get(file);
  if (!asset || version !== assets.version) return new Response('Not found', { status: 404 });
  return new Response(asset.body, {
    headers: {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
    },
  });
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** Hono middleware for /graphql: GraphiQL's page gets the CSP; GraphQL answers pass untouched. */
export const graphiqlPagePolicy: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.res.headers.get('content-type')?.startsWith('text/html')) {
    c.header('Content-Security-Policy', GRAPHIQL_CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
  }
};
