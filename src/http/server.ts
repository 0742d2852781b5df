// Runs a gateway on a port until SIGTERM/SIGINT, then shuts down gracefully: stop accepting,
// let in-flight requests finish, commit what was accepted, close the pool, exit.
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { App } from './app.ts';

export type RunningServer = { server: Server; url: string; stop: (reason: string) => Promise<void> };

export async function listen(
  gateway: { app: App; endStreams?(): Promise<void>; close(): Promise<void> },
  config: Pick<Config, 'host' | 'port' | 'shutdownTimeoutSeconds'>,
  logger: Logger,
): Promise<RunningServer> {
  const server = createAdaptorServer({
    fetch: (request, env: { incoming?: { socket?: { remoteAddress?: string } } }) =>
      gateway.app.fetch(request, { remoteAddress: env.incoming?.socket?.remoteAddress }),
  }) as Server;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      logger.info({ reason }, 'shutting down: no new connections, finishing in-flight requests');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Live tails never finish by themselves: end them (each tells its client where to resume).
      void gateway.endStreams?.();
      const force = setTimeout(() => {
        logger.warn('in-flight requests did not finish in time; closing their connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutSeconds * 1000);
      force.unref();
      await closed;
      clearTimeout(force);
      await gateway.close();
      logger.info('shutdown complete');
    })();
    return stopping;
  };
  return { server, url, stop };
}
