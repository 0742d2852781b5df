// `audit-gateway streams …`: the operator manages a tenant's log streams from the command line,
// and a gateway on the same database delivers them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { ensureCompiledCli } from './support/cli.ts';
import {
  FAST_STREAMS,
  newTenant,
  type SharedDatabase,
  sharedDatabase,
} from './support/log-stream-gateways.ts';
import { deliveredInOrder, eventually, type Receiver, startReceiver } from './support/log-stream-receiver.ts';

const run = promisify(execFile);
let bin: string;
let shared: SharedDatabase;
let receiver: Receiver;

beforeAll(async () => {
  bin = await ensureCompiledCli();
  shared = await sharedDatabase();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await shared?.drop();
});

async function cli(...args: string[]) {
  const { stdout } = await run(process.execPath, [bin, ...args], {
    env: { ...process.env, ...shared.env, ...FAST_STREAMS, LOG_LEVEL: 'warn', NODE_ENV: 'development' },
  });
  return stdout;
}

describe('audit-gateway streams', { timeout: 240_000 }, () => {
  it('creates (secret shown once), lists (status, never the secret), pauses and deletes', async () => {
    let gateway = await shared.open();
    const tenant = await newTenant(gateway);
    await gateway.audit.recordEvents(
      operatorViewer(tenant),
      Array.from({ length: 12 }, (_, i) => ({ action: `cli.stream-${i}` })),
    );
    await gateway.close();

    const created = JSON.parse(
      await cli(
        'streams',
        'create',
        '--tenant',
        tenant.slug,
        '--name',
        'siem',
        '--webhook-url',
        receiver.url,
        '--from-beginning',
        '--json',
      ),
    ) as { id: string; secret: string; position: number };
    expect(created.secret).toMatch(/^whsec_/);
    expect(created.position).toBe(0);
    receiver.secret = created.secret;

    const listed = await cli('streams', 'list', '--json');
    expect(listed).not.toContain(created.secret);
    const rows = JSON.parse(listed) as { id: string; tenant: string; lag: number }[];
    expect(rows.find((r) => r.id === created.id)).toMatchObject({ tenant: tenant.slug, lag: 12 });

    gateway = await shared.open();
    try {
      await eventually(async () => (await gateway.streams.list(operatorViewer(tenant)))[0]?.position === 12);
    } finally {
      await gateway.close();
    }
    expect(deliveredInOrder(receiver.events(), 12)).toBe(true);

    expect(await cli('streams', 'pause', created.id, '--tenant', tenant.slug)).toMatch(/paused/);
    expect(await cli('streams', 'list', '--tenant', tenant.slug)).toMatch(/position 12\tlag 0\tpaused/);
    expect(await cli('streams', 'delete', created.id, '--tenant', tenant.slug)).toMatch(/deleted/);
    expect(await cli('streams', 'list', '--tenant', tenant.slug)).toBe('\n');
  });

  it('--all-tenants makes one stream per tenant, signed with one secret', async () => {
    const gateway = await shared.open();
    const tenants = [await newTenant(gateway), await newTenant(gateway)];
    await gateway.close();
    const created = JSON.parse(
      await cli(
        'streams',
        'create',
        '--all-tenants',
        '--name',
        'siem',
        '--webhook-url',
        receiver.url,
        '--json',
      ),
    ) as { tenant: string; secret: string }[];
    for (const t of tenants) expect(created.map((c) => c.tenant)).toContain(t.slug);
    expect(new Set(created.map((c) => c.secret)).size).toBe(1);
  });
});
