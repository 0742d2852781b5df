// Signing keys rotate without false alarms: checkpoints verify with the key their `kid` names,
// taken from a ring of the current key and the retired ones; a key the gateway lacks is reported
// as unknown, never as tampering; and a generated development key refuses to start on a database
// that another key signed.
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import { createTenant } from '../src/auth/admin.ts';
import { loadConfig } from '../src/config.ts';
import { type Gateway, openGateway } from '../src/gateway.ts';
import { rotateSigningKey } from '../src/secrets.ts';
import { createTestDatabase, dbKind } from './support/gateway.ts';

const dirs: string[] = [];
const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops) await drop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const newKey = () =>
  generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const publicPem = (privatePem: string) =>
  createPublicKey(privatePem).export({ format: 'pem', type: 'spki' }).toString();

/** One database (and DATA_DIR) that several gateways open one after another, as restarts would. */
async function place(): Promise<Record<string, string>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agw-keys-'));
  dirs.push(dir);
  const base = {
    NODE_ENV: 'development',
    DATA_DIR: dir,
    DEMO_SEED: 'false',
    LOG_LEVEL: 'silent',
    TOKEN_SECRET: 'x'.repeat(40),
    CHECKPOINT_EVERY_EVENTS: '5',
  };
  if (dbKind !== 'postgres') return base;
  const db = await createTestDatabase();
  drops.push(db.drop);
  return { ...base, DATABASE_URL: db.url };
}

let open: Gateway | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function start(env: Record<string, string>): Promise<Gateway> {
  open = await openGateway({ config: loadConfig(env), logger: pino({ level: 'silent' }) });
  return open;
}

async function stop() {
  await open?.close();
  open = undefined;
}

async function recordSome(gateway: Gateway, tenant: { id: number; slug: string }, n: number) {
  const results = await gateway.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: n }, (_, i) => ({ action: `keys-${i}` })),
  );
  expect(results.every((r) => r.ok)).toBe(true);
}

describe('signing key rotation', () => {
  it('verifies checkpoints signed before a rotation with the retired key, and publishes every key', async () => {
    const env = await place();
    const oldKey = newKey();
    let gateway = await start({ ...env, SIGNING_KEY: oldKey });
    const oldKeyId = gateway.signer.keyId;
    const tenant = await createTenant(gateway.database, 'rotating');
    await recordSome(gateway, tenant, 12);
    await stop();

    gateway = await start({ ...env, SIGNING_KEY: newKey(), SIGNING_KEY_PREVIOUS: publicPem(oldKey) });
    await recordSome(gateway, tenant, 6);
    const report = await gateway.chain.verify(operatorViewer(tenant));
    expect(report).toMatchObject({ intact: true, status: 'intact', break: null, unknownKeyIds: [] });
    expect(report.checkpointsChecked).toBe(2);
    const kids = (await gateway.chain.listCheckpoints(operatorViewer(tenant), undefined, 100)).map(
      (c) => c.keyId,
    );
    expect(new Set(kids)).toEqual(new Set([oldKeyId, gateway.signer.keyId]));

    const jwks = (await (
      await gateway.app.fetch(new Request('http://g/.well-known/audit-signing-keys.json'))
    ).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([gateway.signer.keyId, oldKeyId]);
    const pem = await (
      await gateway.app.fetch(new Request('http://g/.well-known/audit-signing-key.pem'))
    ).text();
    expect(pem.match(/BEGIN PUBLIC KEY/g)).toHaveLength(2);
    // A reader of one PEM gets the current key.
    expect(createPublicKey(pem).export({ format: 'der', type: 'spki' })).toEqual(
      gateway.signer.publicKey.export({ format: 'der', type: 'spki' }),
    );
  });

  it('reports checkpoints signed by a key it does not hold as that, not as a modified chain', async () => {
    const env = await place();
    let gateway = await start({ ...env, SIGNING_KEY: newKey() });
    const oldKeyId = gateway.signer.keyId;
    const tenant = await createTenant(gateway.database, 'forgotten-key');
    await recordSome(gateway, tenant, 10);
    await stop();

    gateway = await start({ ...env, SIGNING_KEY: newKey() });
    const report = await gateway.chain.verify(operatorViewer(tenant));
    expect(report).toMatchObject({
      intact: false,
      status: 'unknown-key',
      break: null,
      unknownKeyIds: [oldKeyId],
      eventsChecked: 10,
    });
    const listed = gateway.chain.describeStatements(
      tenant.id,
      await gateway.chain.listCheckpoints(operatorViewer(tenant), undefined, 100),
    );
    expect(listed[0]?.problem).toBe(`signed by an unknown key ${oldKeyId}`);
  });

  it('still reports a checkpoint whose signature fails as MODIFIED', async () => {
    const env = await place();
    const gateway = await start({ ...env, SIGNING_KEY: newKey() });
    const tenant = await createTenant(gateway.database, 'forged-signature');
    await recordSome(gateway, tenant, 5);
    await recordSome(gateway, tenant, 5);
    await gateway.database.admin(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      await tx.execute(
        sql`update chain_checkpoints set signature = sha512(signature) where tenant_id = ${tenant.id} and seq = 5`,
      );
    });
    const report = await gateway.chain.verify(operatorViewer(tenant));
    expect(report.status).toBe('broken');
    expect(report.break).toMatchObject({ sequence: 5, kind: 'modified' });
    expect(report.break?.detail).toMatch(/does not verify/);
  });

  it('refuses to start with a generated development key on a database another key signed, naming SIGNING_KEY', async () => {
    const env = await place();
    const gateway = await start({ ...env, SIGNING_KEY: newKey() });
    const tenant = await createTenant(gateway.database, 'was-configured');
    await recordSome(gateway, tenant, 6);
    await stop();

    await expect(start(env)).rejects.toThrow(/signed by key [0-9a-f]{16}.*Set SIGNING_KEY/);
  });

  it('rotates the development key with `keys rotate-signing`; old and new checkpoints both verify', async () => {
    const env = await place();
    let gateway = await start(env);
    const tenant = await createTenant(gateway.database, 'dev-rotation');
    await recordSome(gateway, tenant, 6);
    const before = gateway.signer.keyId;
    await stop();

    const rotation = rotateSigningKey(loadConfig(env));
    expect(rotation).toMatchObject({ retiredKeyId: before, environment: undefined });

    gateway = await start(env);
    expect(gateway.signer.keyId).toBe(rotation.newKeyId);
    await recordSome(gateway, tenant, 6);
    const report = await gateway.chain.verify(operatorViewer(tenant));
    expect(report).toMatchObject({ status: 'intact', break: null, checkpointsChecked: 2 });
  });

  it('`keys rotate-signing` with SIGNING_KEY configured prints the values to set, and they work', async () => {
    const env = await place();
    const oldKey = newKey();
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      [path.resolve('src/bin.mjs'), 'keys', 'rotate-signing', '--json'],
      { env: { ...process.env, ...env, SIGNING_KEY: oldKey, DATABASE_URL: '' } },
    );
    const rotation = JSON.parse(stdout) as ReturnType<typeof rotateSigningKey>;
    expect(rotation.writtenTo).toBeUndefined();
    let gateway = await start({ ...env, SIGNING_KEY: oldKey });
    const tenant = await createTenant(gateway.database, 'env-rotation');
    await recordSome(gateway, tenant, 5);
    await stop();
    gateway = await start({ ...env, ...rotation.environment });
    await recordSome(gateway, tenant, 5);
    expect(await gateway.chain.verify(operatorViewer(tenant))).toMatchObject({
      status: 'intact',
      checkpointsChecked: 2,
    });
  });
});
