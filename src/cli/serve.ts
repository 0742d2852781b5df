// `serve` (the HTTP server until SIGTERM/SIGINT) and `migrate`.
import type { Command } from 'commander';
import { CONFIG_VARIABLES } from '../config.ts';
import { describeDatabase } from './environment.ts';
import { type Cli, DATABASE_VARIABLES, environmentHelp } from './resources.ts';

export function registerServeCommands(program: Command, cli: Cli) {
  program
    .command('serve')
    .description('run the HTTP server (GraphQL at /graphql, REST dialects, health checks); the default')
    .addHelpText('after', environmentHelp(CONFIG_VARIABLES))
    .action(async () => {
      const current = cli.settings();
      const cfg = current.config;
      const [{ openGateway }, { listen }, { createLogger }, { terminalProgress }] = await Promise.all([
        import('../gateway.ts'),
        import('../http/server.ts'),
        import('../logger.ts'),
        import('../demo/seed.ts'),
      ]);
      cli.announceDatabase(current, 'expected');
      const logger = createLogger(cfg.logLevel);
      const gateway = await openGateway({
        config: cfg,
        logger,
        onDemoProgress: terminalProgress('seeding demo events'),
        sweepCheckpoints: true,
        applyRetention: true,
      });
      const running = await listen(gateway, cfg, logger);
      const where = describeDatabase(cfg);
      logger.info({ url: running.url, database: where }, 'audit gateway listening');
      const lines = [
        '',
        `  Audit gateway on ${running.url}  (${where})`,
        cfg.graphiql ? `  GraphiQL:  ${running.url}/graphql` : '  GraphiQL:  off',
        `  OpenAPI:   ${running.url}/openapi.json`,
      ];
      if (gateway.demoApiKey) {
        lines.push(
          `  Demo key:  ${gateway.demoApiKey}`,
          '             (tenant "demo"; pre-filled in GraphiQL\'s headers tab)',
          `  Try:       curl -H "Authorization: Bearer ${gateway.demoApiKey}" "${running.url}/enterprise/v1/audit-log?maxResults=5"`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n\n`);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          running.stop(signal).then(
            () => process.exit(0),
            (err) => {
              logger.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
        });
      }
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async () => {
      const current = cli.settings();
      const cfg = current.config;
      if (cfg.migrationDatabaseUrl) {
        cli.announceDatabase(current, 'expected');
        const { applyMigrations } = await import('../db/migrate.ts');
        await applyMigrations({ kind: 'postgres', url: cfg.migrationDatabaseUrl });
      } else await cli.withDatabase(async () => {}, 'expected'); // opening the embedded database migrates it
      process.stdout.write('migrations applied\n');
    });
}
