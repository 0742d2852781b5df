// Every test file runs against the embedded PGlite database. With TEST_DATABASE_URL set (as in
// .ci/run), the same files run a second time against a real Postgres, each in databases of its own.
import { defineConfig } from 'vitest/config';

const postgresUrl = process.env.TEST_DATABASE_URL;

const shared = {
  include: ['test/**/*.test.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the libraries (it has no "exports" map); make our own
    // imports use it too, or the schema would mix two graphql instances.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    projects: [
      { extends: true as const, test: { ...shared, name: 'pglite', env: { TEST_DB: 'pglite' } } },
      ...(postgresUrl
        ? [{ extends: true as const, test: { ...shared, name: 'postgres', env: { TEST_DB: 'postgres' } } }]
        : []),
    ],
  },
});
