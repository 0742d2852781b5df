// Gateways that share one database, opened and closed at will: a restart is closing one and
// opening the next on the same database; two instances are two open at once (Postgres only,
// since an embedded data directory has one owner at a time).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { pino } from 'pino';
import { createApiKey, createTenant } from '../../src/auth/admin.ts';
import { loadConfig } from '../../src/config.ts';
import { type Gateway, openGateway } from '../../src/gateway.ts';
import { createTestDatabase, dbKind, type GraphQLResponse, testSecrets } from './gateway.ts';

let counter = 0;

export type SharedDatabase = {
  kind: 'postgres' | 'pglite';
  /** The variables that point a gateway or the CLI at this database, with its secrets. */
  env: Record<string, string>;
  open(env?: Record<string, string>): Promise<Gateway>;
  drop(): Promise<void>;
};

/** Fast polls and retries, and a short delivery timeout (so a killed instance's lease ends soon). */
export const FAST_STREAMS = {
  LOG_STREAM_POLL_MS: '20',
  LOG_STREAM_RETRY_MIN_MS: '20',
  LOG_STREAM_RETRY_MAX_MS: '200',
  LOG_STREAM_DELIVERY_TIMEOUT_MS: '500',
};

export async function sharedDatabase(): Promise<SharedDatabase> {
  const secrets = testSecrets();
  const postgresDb = dbKind === 'postgres' ? await createTestDatabase() : undefined;
  const dataDir = postgresDb ? undefined : mkdtempSync(path.join(tmpdir(), 'agw-streams-'));
  const env = {
    ...secrets,
    ...(postgresDb ? { DATABASE_URL: postgresDb.url } : { DATA_DIR: dataDir as string }),
  };
  return {
    kind: dbKind,
    env,
    open: (env = {}) =>
      openGateway({
        config: loadConfig({
          NODE_ENV: 'test',
          DEMO_SEED: 'false',
          LOG_LEVEL: 'silent',
          ...secrets,
          ...FAST_STREAMS,
          ...(postgresDb ? { DATABASE_URL: postgresDb.url } : { DATA_DIR: dataDir as string }),
          ...env,
        }),
        logger: pino({ level: 'silent' }),
      }),
    drop: async () => {
      await postgresDb?.drop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function newTenant(gateway: Gateway, prefix = 'ls') {
  const slug = `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;
  const tenant = await createTenant(gateway.database, slug);
  const { key } = await createApiKey(gateway.database, slug, ['read', 'write']);
  const { key: readKey } = await createApiKey(gateway.database, slug, ['read']);
  const { key: writeOnlyKey } = await createApiKey(gateway.database, slug, ['write']);
  return { id: tenant.id, slug, key, readKey, writeOnlyKey };
}

export async function gql<R, V>(
  gateway: Gateway,
  document: TypedDocumentNode<R, V>,
  variables: V,
  key: string,
): Promise<GraphQLResponse<R>> {
  const res = await gateway.app.fetch(
    new Request('http://gateway.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({ query: print(document), variables }),
    }),
    { remoteAddress: '127.0.0.1' },
  );
  return { status: res.status, ...((await res.json()) as object) } as GraphQLResponse<R>;
}
