// A real gateway for tests, driven through its HTTP handler in-process (app.fetch), on the
// database the project under test names: embedded PGlite, or a fresh database on the Postgres
// server in TEST_DATABASE_URL. Each test makes its own tenants, so tests never depend on each other.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Logger, pino } from 'pino';
import postgres from 'postgres';
import { createApiKey, createTenant } from '../../src/auth/admin.ts';
import type { Scope } from '../../src/auth/keys.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { type Gateway, openGateway } from '../../src/gateway.ts';

export const dbKind = (process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite') as 'postgres' | 'pglite';

export type GraphQLResponse<T> = {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
};

export type TestTenant = { id: number; slug: string; key: string; readKey: string; writeOnlyKey: string };

export type TestGateway = {
  kind: 'postgres' | 'pglite';
  gateway: Gateway;
  config: Config;
  /** Every SQL statement sent by the serving connection, in order. */
  queries: string[];
  /** Connection URL of this test's own database (Postgres only), as a superuser. */
  adminUrl: string | undefined;
  fetch(path: string, init?: RequestInit & { key?: string; remoteAddress?: string }): Promise<Response>;
  gql<R, V>(document: TypedDocumentNode<R, V>, variables: V, key: string): Promise<GraphQLResponse<R>>;
  /** Raw GraphQL: a query string and variables, for tests that need malformed input. */
  gqlRaw(body: unknown, key?: string): Promise<GraphQLResponse<Record<string, unknown>>>;
  newTenant(prefix?: string): Promise<TestTenant>;
  close(): Promise<void>;
};

let counter = 0;

export function testSecrets() {
  return {
    TOKEN_SECRET: randomBytes(32).toString('base64url'),
    SIGNING_KEY: generateKeyPairSync('ed25519')
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString(),
  };
}

/** Creates a database of its own on the test Postgres server; returns its URL and a dropper. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `agw_test_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

export async function startTestGateway(
  env: Record<string, string> = {},
  { logger = pino({ level: 'silent' }) }: { logger?: Logger } = {},
): Promise<TestGateway> {
  const queries: string[] = [];
  const database = dbKind === 'postgres' ? await createTestDatabase() : undefined;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: 'memory://',
    DEMO_SEED: 'false',
    LOG_LEVEL: 'silent',
    AUTH_FAILURES_PER_MINUTE: '100000',
    // No log stream worker polling in the background of tests that count SQL statements; the log
    // stream tests open gateways with one (test/support/log-stream-gateways.ts).
    LOG_STREAMS: 'false',
    ...testSecrets(),
    ...(database ? { DATABASE_URL: database.url } : {}),
    ...env,
  });
  const gateway = await openGateway({
    config,
    logger,
    onQuery: (q) => queries.push(q),
  });
  const fetch: TestGateway['fetch'] = (path, init = {}) => {
    const { key, remoteAddress, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key !== undefined) headers.set('authorization', `Bearer ${key}`);
    return gateway.app.fetch(new Request(`http://gateway.test${path}`, { ...rest, headers }), {
      remoteAddress: remoteAddress ?? '127.0.0.1',
    });
  };
  const gqlRaw: TestGateway['gqlRaw'] = async (body, key) => {
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...(key === undefined ? {} : { key }),
    });
    const json = (await res.json()) as Omit<GraphQLResponse<Record<string, unknown>>, 'status'>;
    return { status: res.status, ...json };
  };
  return {
    kind: dbKind,
    gateway,
    config,
    queries,
    adminUrl: database?.url,
    fetch,
    gqlRaw,
    gql: async (document, variables, key) =>
      (await gqlRaw({ query: print(document), variables }, key)) as GraphQLResponse<never>,
    newTenant: async (prefix = 't') => {
      const slug = `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`.slice(0, 60);
      const tenant = await createTenant(gateway.database, slug);
      const make = async (scopes: Scope[]) => (await createApiKey(gateway.database, slug, scopes)).key;
      return {
        id: tenant.id,
        slug,
        key: await make(['read', 'write']),
        readKey: await make(['read']),
        writeOnlyKey: await make(['write']),
      };
    },
    close: async () => {
      await gateway.close();
      await database?.drop();
    },
  };
}

/** The key with its last character changed, as a typo would: its checksum no longer matches. */
export function mistypedKey(key: string): string {
  return `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}`;
}
