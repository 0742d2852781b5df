// The gateway refuses to start on a Postgres server that could lose acknowledged commits: fsync off
// (a server-wide setting, so it takes a cluster of our own) or synchronous_commit off for the whole
// server. The same cluster with its default settings is served, so each refusal is the setting's.
// (synchronous_commit off for one database is tested in the normal suite: test/durability-settings.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testSecrets } from '../support/gateway.ts';
import {
  type Cluster,
  type GatewayProcess,
  killGateway,
  prepareDatabase,
  spawnGateway,
  startCluster,
} from './support.ts';

let cluster: Cluster | undefined;
let url: string;
let gateway: GatewayProcess | undefined;
const env = () => ({ DATABASE_URL: url, ...testSecrets() });

beforeAll(async () => {
  cluster = await startCluster();
  url = (await prepareDatabase(cluster, 'audit', [])).url;
});
afterAll(async () => {
  killGateway(gateway);
  await cluster?.destroy();
});

/** Restarts the cluster with these server settings. */
async function restartWith(settings: Record<string, string>) {
  await cluster?.stop();
  await cluster?.start(settings);
}

describe('start-up refusal on a server that could lose commits', () => {
  it('refuses fsync=off, naming fsync', async () => {
    await restartWith({ fsync: 'off' });
    const refusal = spawnGateway(env());
    await expect(refusal).rejects.toThrow(/exited with 1/);
    await expect(refusal).rejects.toThrow(
      /Refusing to serve from this database: the server runs with fsync=off, so committed events can be lost/,
    );
    await expect(refusal).rejects.not.toThrow(/synchronous_commit/);
  });

  it('refuses synchronous_commit=off set for the whole server, naming it', async () => {
    await restartWith({ synchronous_commit: 'off' });
    const refusal = spawnGateway(env());
    await expect(refusal).rejects.toThrow(/exited with 1/);
    await expect(refusal).rejects.toThrow(
      /synchronous_commit is off, so a commit is acknowledged before it is durable/,
    );
    await expect(refusal).rejects.not.toThrow(/fsync/);
  });

  it('serves the same cluster with its durable defaults', async () => {
    await restartWith({});
    gateway = await spawnGateway(env());
    expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });
});
