// Tenant and key administration, shared by the CLI, the demo seed and the tests.

import type { Database } from '../db/client.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { generateApiKey, SCOPES, type Scope } from './keys.ts';
import * as repo from './repository.ts';

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function validateSlug(slug: string): string {
  if (!SLUG.test(slug)) {
    throw new ValidationError(
      'slug',
      'must be 1-63 lower-case letters, digits or dashes, starting with a letter or digit',
    );
  }
  return slug;
}

export async function createTenant(database: Database, slug: string): Promise<repo.Tenant> {
  validateSlug(slug);
  if (await repo.findTenantBySlug(database, slug))
    throw new ValidationError('slug', `tenant "${slug}" already exists`);
  return repo.createTenant(database, slug);
}

export function parseScopes(text: string): Scope[] {
  const scopes = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new ValidationError('scopes', `must be a comma-separated list of ${SCOPES.join(', ')}`);
  }
  return scopes as Scope[];
}

/** Creates a key and returns it in clear text: the only time it is ever shown. */
export async function createApiKey(
  database: Database,
  tenantSlug: string,
  scopes: Scope[],
  name: string | null = null,
): Promise<{ key: string; id: string; tenant: repo.Tenant; scopes: Scope[] }> {
  const tenant = await repo.findTenantBySlug(database, tenantSlug);
  if (!tenant) throw new NotFoundError(`Tenant "${tenantSlug}"`);
  const { key, id, secretHash } = generateApiKey();
  await repo.insertApiKey(database, { id, tenantId: tenant.id, name, scopes, secretHash });
  return { key, id, tenant, scopes };
}

export async function revokeApiKey(database: Database, keyId: string): Promise<void> {
  const id = keyId.replace(/^agw_/, '').slice(0, 12);
  if (!(await repo.revokeApiKey(database, id))) throw new NotFoundError(`Live API key "${keyId}"`);
}

/** Turns recording of a tenant's reads on or off (the operator's switch; no API key has it). */
export async function setReadLog(database: Database, slug: string, enabled: boolean): Promise<void> {
  if (!(await repo.setReadLog(database, slug, enabled))) throw new NotFoundError(`Tenant "${slug}"`);
}

export { findTenantBySlug, listApiKeys, listTenantSettings, listTenants } from './repository.ts';
