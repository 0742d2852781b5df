// GraphiQL as an analyst on a machine without internet meets it: a real Chromium (Debian's, which
// .ci/run installs) that may reach nothing but the gateway, on a real listening port, with the demo
// tenant. The page must render, open on the README's example query, and answer when ▶ is pressed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listen, type RunningServer } from '../src/http/server.ts';
import { dbKind, startTestGateway, type TestGateway } from './support/gateway.ts';

const CHROMIUM = '/usr/bin/chromium';

// The demo tenant is seeded on the embedded database only; the page is the same on either store.
describe.skipIf(dbKind !== 'pglite')('GraphiQL in a browser that can reach only the gateway', () => {
  let dataDir: string;
  let g: TestGateway;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every request the page tried to send anywhere but the gateway. */
  let elsewhere: string[];
  let cspViolations: string[];

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`).toBe(true);
    dataDir = mkdtempSync(path.join(tmpdir(), 'agw-graphiql-'));
    g = await startTestGateway({
      DATA_DIR: dataDir,
      DEMO_SEED: 'true',
      DEMO_EVENTS: '400',
      GRAPHIQL: 'true',
    });
    server = await listen(g.gateway, { ...g.config, host: '127.0.0.1', port: 0 }, pino({ level: 'silent' }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop('test done');
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    elsewhere = [];
    cspViolations = [];
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const gateway = new URL(server.url).origin;
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === gateway) return route.continue();
      elsewhere.push(url.href);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    return () => context.close();
  });

  /** The visible text of a Monaco editor, with its non-breaking spaces made plain. */
  const editorText = (selector: string) =>
    page
      .locator(`${selector} .view-lines`)
      .first()
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, one line per editor line
      .innerText()
      .then((text) => text.replace(/\u00a0/g, ' '));

  const resultText = () => editorText('.graphiql-response');

  async function openGraphiQL() {
    await page.goto(`${server.url}/graphql`);
    await page.locator('.graphiql-query-editor .view-lines').first().waitFor({ timeout: 30_000 });
    await expect.poll(() => editorText('.graphiql-query-editor'), { timeout: 15_000 }).toContain('query');
  }

  /** Presses ▶ and returns the JSON the gateway answered for that operation. */
  async function run(operationName: string) {
    const answered = page.waitForResponse(
      (res) => res.url().endsWith('/graphql') && (res.request().postData() ?? '').includes(operationName),
    );
    // GraphiQL re-reads a document's operation names on a debounce after the editor changes (a tab
    // switch included): ▶ pressed within it names the previous tab's operation and fails in the
    // page ("Cannot infer operation"), sending nothing. A person's pause, not a retry.
    await new Promise((r) => setTimeout(r, 750));
    await page.locator('.graphiql-execute-button').click();
    const response = await answered;
    expect(response.status()).toBe(200);
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  }

  it('opens on the example query, and ▶ shows the demo tenant’s events in the result pane', async () => {
    await openGraphiQL();
    const query = await editorText('.graphiql-query-editor');
    expect(query).toContain('query RecentEvents');
    expect(query).not.toMatch(/Welcome to/i);

    const answer = await run('RecentEvents');
    expect(answer.errors).toBeUndefined();
    const events = answer.data?.auditEvents as { totalCount: number; edges: { node: { action: string } }[] };
    expect(events.totalCount).toBe(400);
    expect(events.edges).toHaveLength(10);

    await expect.poll(resultText, { timeout: 15_000 }).toContain('"slug": "demo"');
    const shown = await resultText();
    expect(shown).toContain('"totalCount": 400');
    expect(shown).not.toContain('"errors"');
    await page.screenshot({ path: path.join(tmpdir(), 'graphiql-recent-events.png') });

    expect(elsewhere).toEqual([]);
    expect(cspViolations).toEqual([]);
  });

  it('offers the analyst tabs, and the failed sign-ins tab answers with its window', async () => {
    await openGraphiQL();
    const tabs = page.locator('.graphiql-tab');
    for (const name of [
      'RecentEvents',
      'FailedSignIns',
      'ActorActivity',
      'NextPage',
      'Histogram',
      'VerifyChain',
    ])
      await expect.poll(() => tabs.allInnerTexts()).toEqual(expect.arrayContaining([name]));

    // A plain mouse click, as a person does (GraphiQL's tabs used to jump away from under it).
    await page.locator('.graphiql-tab-button', { hasText: 'FailedSignIns' }).click();
    await expect.poll(() => editorText('.graphiql-query-editor')).toContain('query FailedSignIns');
    const answer = await run('FailedSignIns');
    expect(answer.errors).toBeUndefined();
    const failed = answer.data?.auditEvents as { totalCount: number; edges: { node: { action: string } }[] };
    expect(failed.totalCount).toBeGreaterThan(0);
    expect(new Set(failed.edges.map((e) => e.node.action))).toEqual(new Set(['SIGN_IN_FAILURE']));
    await expect.poll(resultText, { timeout: 15_000 }).toContain('"SIGN_IN_FAILURE"');
    await page.screenshot({ path: path.join(tmpdir(), 'graphiql-failed-sign-ins.png') });

    expect(elsewhere).toEqual([]);
    expect(cspViolations).toEqual([]);
  });

  it('the histogram tab answers with a bucket per day', async () => {
    await openGraphiQL();
    await page.locator('.graphiql-tab-button', { hasText: 'Histogram' }).click();
    await expect.poll(() => editorText('.graphiql-query-editor')).toContain('query Histogram');
    const answer = await run('Histogram');
    expect(answer.errors).toBeUndefined();
    const counts = answer.data?.auditEventCounts as {
      total: number;
      buckets: { count: number }[];
      groups: { count: number }[];
      other: number;
    };
    expect(counts.total).toBeGreaterThan(0);
    expect(counts.buckets.length).toBeGreaterThanOrEqual(30);
    expect(counts.buckets.reduce((n, b) => n + b.count, 0)).toBe(counts.total);
    expect(counts.groups.reduce((n, g) => n + g.count, 0) + counts.other).toBe(counts.total);
    await expect.poll(resultText, { timeout: 15_000 }).toContain('"buckets"');

    expect(elsewhere).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
