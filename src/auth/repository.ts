// SQL for tenants and API keys. Creating and revoking happen as the database owner (CLI, demo
// seeding, tests); the serving role can only read keys to authenticate a request.
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Database, Db, Tx } from '../db/client.ts';
import { classifyDatabaseError } from '../db/errors.ts';
import { apiKeys, tenants } from '../db/schema.ts';
import { databaseFailed } from '../metrics.ts';
import type { Scope } from './keys.ts';

export type Tenant = { id: number; slug: string };

/**
 * Every gateway LISTENs here and drops the cached key rows a payload names: `key:<id>` or
 * `tenant:<id>` (src/auth/key-cache.ts). A change to a row StoredKey reads sends one in its own
 * transaction (Database.notify), so it is delivered on commit, never for a change rolled back,
 * and to this process's own cache before the change's caller goes on.
 */
export const KEYS_CHANNEL = 'audit_gateway_keys';

function announceKeyChange(
  database: Database,
  tx: Tx,
  payload: `key:${string}` | `tenant:${number}`,
): Promise<void> {
  return database.notify(tx, KEYS_CHANNEL, payload);
}

export async function createTenant(database: Database, slug: string): Promise<Tenant> {
  return database.admin(async (tx) => {
    const [row] = await tx.insert(tenants).values({ slug }).returning({ id: tenants.id, slug: tenants.slug });
    if (!row) throw new Error('tenant insert returned nothing');
    return row;
  });
}

export async function findTenantBySlug(database: Database, slug: string): Promise<Tenant | null> {
  const [row] = await database.db
    .select({ id: tenants.id, slug: tenants.slug })
    .from(tenants)
    .where(eq(tenants.slug, slug));
  return row ?? null;
}

export async function listTenants(database: Database): Promise<Tenant[]> {
  return database.db.select({ id: tenants.id, slug: tenants.slug }).from(tenants).orderBy(asc(tenants.id));
}

/** Every tenant with its read-log switch, for `tenants list`. */
export async function listTenantSettings(database: Database): Promise<(Tenant & { readLog: boolean })[]> {
  return database.db
    .select({ id: tenants.id, slug: tenants.slug, readLog: tenants.readLog })
    .from(tenants)
    .orderBy(asc(tenants.id));
}

/** Turns recording of a tenant's reads on or off; false when there is no such tenant. */
export async function setReadLog(database: Database, slug: string, enabled: boolean): Promise<boolean> {
  return database.admin(async (tx) => {
    const rows = await tx
      .update(tenants)
      .set({ readLog: enabled })
      .where(eq(tenants.slug, slug))
      .returning({ id: tenants.id });
    for (const row of rows) await announceKeyChange(database, tx, `tenant:${row.id}`);
    return rows.length > 0;
  });
}

export async function insertApiKey(
  database: Database,
  key: { id: string; tenantId: number; name: string | null; scopes: Scope[]; secretHash: Buffer },
): Promise<void> {
  await database.admin((tx) => tx.insert(apiKeys).values(key));
}

/** Marks a key revoked; false when there is no such live key. */
export async function revokeApiKey(database: Database, keyId: string): Promise<boolean> {
  return database.admin(async (tx) => {
    const rows = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    for (const row of rows) await announceKeyChange(database, tx, `key:${row.id}`);
    return rows.length > 0;
  });
}

export async function listApiKeys(database: Database, tenantId: number) {
  return database.db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      scopes: apiKeys.scopes,
      createdAt: apiKeys.createdAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.tenantId, tenantId))
    .orderBy(asc(apiKeys.createdAt));
}

export type StoredKey = {
  tenantId: number;
  tenantSlug: string;
  scopes: string[];
  secretHash: Uint8Array;
  revokedAt: Date | null;
  /** The tenant's read-log switch. */
  readLog: boolean;
};

export async function findApiKey(db: Db, keyId: string): Promise<StoredKey | null> {
  try {
    const [row] = await db
      .select({
        tenantId: apiKeys.tenantId,
        tenantSlug: tenants.slug,
        scopes: apiKeys.scopes,
        secretHash: apiKeys.secretHash,
        revokedAt: apiKeys.revokedAt,
        readLog: tenants.readLog,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(eq(apiKeys.id, keyId));
    return row ?? null;
  } catch (error) {
    throw databaseFailed(classifyDatabaseError(error));
  }
}
