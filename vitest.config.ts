// Every test file runs against the embedded PGlite database. With TEST_DATABASE_URL set (as in
// .ci/run), the same files run a second time against a real Postgres, each in databases of its own.
// With FAULT_TEST=1 the `fault` project is added: tests under test/fault/ start throwaway Postgres
// clusters of their own and kill them (`FAULT_TEST=1 npx vitest run --project fault`, run by .ci/run).
import { configDefaults, defineConfig } from 'vitest/config';

const postgresUrl = process.env.TEST_DATABASE_URL;

const shared = {
  include: ['test/**/*.test.ts'],
  exclude: [...configDefaults.exclude, 'test/fault/**'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};
// The CLI and server read ./.env; a developer's (say, the README's Postgres one) must not leak into
// tests, which spawn them with this environment.
const env = { DOTENV_FILE: 'none' };

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the libraries (it has no "exports" map); make our own
    // imports use it too, or the schema would mix two graphql instances.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // Most test time is spent waiting on Postgres, PGlite's worker or a child process, so two
    // files at a time pay off even on two cores (vitest's default there is one).
    maxWorkers: 2,
    // A worker keeps its loaded modules from one file to the next instead of importing the
    // gateway's module graph again for each of the 120-odd files: 160 s of imports became 16 s,
    // and npm test on both stores went from 516 s to 325 s. Files still make their own gateways,
    // databases and servers; nothing a test relies on lives in module state.
    isolate: false,
    projects: [
      { extends: true as const, test: { ...shared, name: 'pglite', env: { ...env, TEST_DB: 'pglite' } } },
      ...(postgresUrl
        ? [
            {
              extends: true as const,
              test: { ...shared, name: 'postgres', env: { ...env, TEST_DB: 'postgres' } },
            },
          ]
        : []),
      ...(process.env.FAULT_TEST === '1'
        ? [
            {
              extends: true as const,
              test: {
                name: 'fault',
                include: ['test/fault/**/*.test.ts'],
                // One cluster at a time: the machine may be small, and the timings are the point.
                fileParallelism: false,
                testTimeout: 120_000,
                hookTimeout: 120_000,
              },
            },
          ]
        : []),
    ],
  },
});
