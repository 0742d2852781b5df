// Log streams from the command line: the operator creates, lists, pauses, resumes and deletes a
// tenant's destinations (or one per tenant).
import { type Command, InvalidArgumentError } from 'commander';
import { operatorViewer } from '../audit/viewer.ts';
import { type Cli, environmentHelp, GATEWAY_VARIABLES, print, tenantOf } from './resources.ts';

export function registerStreamCommands(program: Command, cli: Cli) {
  const streams = program
    .command('streams')
    .description("manage log streams (webhooks, NATS JetStream) that receive tenants' events");
  streams
    .command('create')
    .description('add a log stream for a tenant (or one per tenant); a webhook secret is shown once')
    .option('--tenant <slug>', 'tenant slug')
    .option('--all-tenants', 'one stream for each existing tenant, all with the same destination and secret')
    .requiredOption('--name <name>', 'a name for people')
    .option('--webhook-url <url>', 'POST signed batches to this https:// URL')
    .option('--secret <secret>', 'webhook signing secret, 32 to 256 characters (default: a new random one)')
    .option('--nats-servers <list>', 'publish to NATS JetStream: comma-separated host:port')
    .option('--nats-stream <name>', 'the JetStream stream that captures the subjects')
    .option('--subject-prefix <prefix>', 'NATS subject prefix (default: audit)')
    .option('--create-stream', 'create the NATS stream when it does not exist')
    .option('--actions <list>', 'only these actions (comma-separated; default: every event)')
    .option('--from-beginning', "deliver the tenant's whole history first (default: only new events)")
    .option('--json', 'machine-readable output (an array with --all-tenants)')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(
      async (opts: {
        tenant?: string;
        allTenants?: boolean;
        name: string;
        webhookUrl?: string;
        secret?: string;
        natsServers?: string;
        natsStream?: string;
        subjectPrefix?: string;
        createStream?: boolean;
        actions?: string;
        fromBeginning?: boolean;
        json?: boolean;
      }) => {
        if (!opts.tenant === !opts.allTenants)
          throw new InvalidArgumentError('give --tenant <slug> or --all-tenants');
        const list = (v: string) =>
          v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
        const { listTenants } = await import('../auth/admin.ts');
        await cli.withGateway(async (gateway) => {
          const tenants = opts.tenant
            ? [await tenantOf(gateway.database, opts.tenant)]
            : await listTenants(gateway.database);
          // Every tenant's batches signed with one secret, so one receiver checks them all.
          let sharedSecret = opts.secret;
          const created = [];
          for (const tenant of tenants) {
            const { stream, secret } = await gateway.streams.create(operatorViewer(tenant), {
              name: opts.name,
              webhook: opts.webhookUrl ? { url: opts.webhookUrl, secret: sharedSecret } : undefined,
              nats:
                opts.natsServers || opts.natsStream
                  ? {
                      servers: list(opts.natsServers ?? ''),
                      stream: opts.natsStream ?? '',
                      subjectPrefix: opts.subjectPrefix,
                      createStream: opts.createStream,
                    }
                  : undefined,
              actions: opts.actions === undefined ? undefined : list(opts.actions),
              startFrom: opts.fromBeginning ? 'beginning' : 'now',
            });
            sharedSecret ??= secret ?? undefined;
            created.push({ ...stream, tenant: tenant.slug, secret });
          }
          const secret = created[0]?.secret;
          print(
            !!opts.json,
            opts.tenant ? created[0] : created,
            created.map((s) => `${s.id}\t${s.tenant}\t${s.kind}\t${s.name}`).join('\n') +
              (secret ? `\nsecret: ${secret}\n(store it now, it is not shown again)` : ''),
          );
        });
      },
    );
  streams
    .command('list')
    .description('list log streams with their delivery status (never secrets)')
    .option('--tenant <slug>', 'only this tenant (default: every tenant)')
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(async (opts: { tenant?: string; json?: boolean }) => {
      const { listTenants } = await import('../auth/admin.ts');
      await cli.withGateway(async (gateway) => {
        const tenants = opts.tenant
          ? [await tenantOf(gateway.database, opts.tenant)]
          : await listTenants(gateway.database);
        const rows = [];
        for (const tenant of tenants) {
          for (const s of await gateway.streams.list(operatorViewer(tenant)))
            rows.push({ tenant: tenant.slug, ...s });
        }
        print(
          !!opts.json,
          rows,
          rows
            .map(
              (r) =>
                `${r.id}\t${r.tenant}\t${r.kind}\t${r.name}\tposition ${r.position}\tlag ${r.lag}` +
                (r.paused ? '\tpaused' : '') +
                (r.failing ? `\tfailing: ${r.lastError} (next retry ${r.nextRetryAt?.toISOString()})` : ''),
            )
            .join('\n'),
        );
      });
    });
  for (const [name, description] of [
    ['delete', 'remove a log stream; delivery stops'],
    ['pause', 'stop delivering a log stream, keeping its position'],
    ['resume', 'resume a paused log stream at once'],
  ] as const) {
    streams
      .command(`${name} <id>`)
      .description(description)
      .requiredOption('--tenant <slug>', 'tenant slug')
      .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
      .action(async (id: string, opts: { tenant: string }) => {
        await cli.withGateway(async (gateway) => {
          const operator = operatorViewer(await tenantOf(gateway.database, opts.tenant));
          if (name === 'delete') await gateway.streams.delete(operator, id);
          else await gateway.streams.setPaused(operator, id, name === 'pause');
          process.stdout.write(`${name === 'delete' ? 'deleted' : `${name}d`} ${id}\n`);
        });
      });
  }
}
