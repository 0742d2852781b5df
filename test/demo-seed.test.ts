// The first start's demo seeding on the embedded database, and what a later start finds when that
// first start was interrupted halfway (Ctrl-C while the progress line was still counting): the
// demo tenant exists, so a later start must still end up with a demo key to print and the whole
// demo dataset, not a tenant nobody can log in to.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createTenant, listTenants } from '../src/auth/admin.ts';
import { loadConfig } from '../src/config.ts';
import { type Gateway, type GatewayOptions, openGateway } from '../src/gateway.ts';
import { dbKind } from './support/gateway.ts';

// More than one batch (MAX_BATCH), so a start can be interrupted between two.
const DEMO_EVENTS = 1_200;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function open(
  dataDir: string,
  onDemoProgress?: GatewayOptions['onDemoProgress'],
  env: Record<string, string> = {},
): Promise<Gateway> {
  const config = loadConfig({
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    DEMO_EVENTS: String(DEMO_EVENTS),
    LOG_LEVEL: 'silent',
    ...env,
  });
  return openGateway({ config, logger: pino({ level: 'silent' }), onDemoProgress });
}

async function demoState(gateway: Gateway) {
  const demo = (await listTenants(gateway.database)).find((t) => t.slug === 'demo');
  if (!demo) return { tenant: false, events: 0 };
  return { tenant: true, events: await gateway.audit.countEvents(operatorViewer(demo), {}) };
}

/** The key answers as the demo tenant. */
async function expectDemoKeyWorks(gateway: Gateway, key: string | undefined) {
  expect(key).toMatch(/^agw_/);
  const res = await gateway.app.fetch(
    new Request('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ viewer { tenant { slug } } }' }),
    }),
    { remoteAddress: '127.0.0.1' },
  );
  expect(await res.json()).toEqual({ data: { viewer: { tenant: { slug: 'demo' } } } });
}

describe.skipIf(dbKind !== 'pglite')('demo seeding on the embedded database', () => {
  it('a start interrupted while seeding: the next start prints a working key and finishes the demo data', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'agw-demo-'));
    dirs.push(dataDir);
    const interrupted = new Error('interrupted after the first batch');
    await expect(
      open(dataDir, (stored) => {
        if (stored >= 1000) throw interrupted;
      }),
    ).rejects.toBe(interrupted);

    const second = await open(dataDir);
    try {
      expect(await demoState(second)).toEqual({ tenant: true, events: DEMO_EVENTS });
      await expectDemoKeyWorks(second, second.demoApiKey);
      expect(readFileSync(path.join(dataDir, 'demo-api-key'), 'utf8').trim()).toBe(second.demoApiKey);
    } finally {
      await second.close();
    }

    // And a start after that one shows the same key and seeds nothing more.
    const third = await open(dataDir);
    try {
      expect(third.demoApiKey).toBe(second.demoApiKey);
      expect(await demoState(third)).toEqual({ tenant: true, events: DEMO_EVENTS });
    } finally {
      await third.close();
    }
  });

  it('an uninterrupted first start seeds once; a restart shows the same key', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'agw-demo-'));
    dirs.push(dataDir);
    const first = await open(dataDir);
    const key = first.demoApiKey;
    try {
      expect(await demoState(first)).toEqual({ tenant: true, events: DEMO_EVENTS });
      await expectDemoKeyWorks(first, key);
    } finally {
      await first.close();
    }
    const again = await open(dataDir);
    try {
      expect(again.demoApiKey).toBe(key);
      expect(await demoState(again)).toEqual({ tenant: true, events: DEMO_EVENTS });
    } finally {
      await again.close();
    }
  });

  it("a user's own `demo` tenant beside others, with no demo key file, is left alone", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'agw-demo-'));
    dirs.push(dataDir);
    const setup = await open(dataDir, undefined, { DEMO_SEED: 'false' });
    try {
      await createTenant(setup.database, 'acme');
      await createTenant(setup.database, 'demo');
    } finally {
      await setup.close();
    }
    const started = await open(dataDir);
    try {
      expect(started.demoApiKey).toBeUndefined();
      expect(await demoState(started)).toEqual({ tenant: true, events: 0 });
    } finally {
      await started.close();
    }
  });
});
