// Retention from the command line (docs/retention.md): a tenant's period, its legal hold, and one
// run of the job that a serving gateway runs on its own. Each change is recorded in the tenant's
// chain by the retention service, naming the operator (--by, default the login name).
import { userInfo } from 'node:os';
import { type Command, InvalidArgumentError } from 'commander';
import type { RetentionStatus } from '../audit/retention.ts';
import { type Cli, environmentHelp, GATEWAY_VARIABLES, print } from './resources.ts';

const RETENTION_VARIABLES = [...GATEWAY_VARIABLES, 'RETENTION_DEFAULT'];

/** The operator as the recorded events name them: `--by`, else the login name. */
export function operatorNamed(by: string | undefined): { id: string; type: 'OPERATOR' } {
  if (by !== undefined && by.trim() === '') throw new InvalidArgumentError('--by must name someone');
  let login = 'operator';
  try {
    login = userInfo().username || login;
  } catch {
    // No user database entry (some containers): the generic name.
  }
  return { id: by?.trim() ?? login, type: 'OPERATOR' };
}

function describe(status: RetentionStatus): string {
  const own = status.period === null ? `${status.effective} (the default)` : status.effective;
  const hold = status.hold
    ? `on legal hold since ${status.hold.since.toISOString()} (placed by ${status.hold.by}: ${status.hold.reason})`
    : 'not on legal hold';
  const cutoff = status.cutoff
    ? `events received before ${status.cutoff.toISOString()} are past it`
    : 'kept forever';
  return `${status.tenant}: retention ${own}; ${cutoff}; ${hold}`;
}

export function registerRetentionCommands(program: Command, cli: Cli) {
  const tenants = program.commands.find((c) => c.name() === 'tenants') ?? program.command('tenants');
  tenants
    .command('retention <slug> [period]')
    .description("show or set how long a tenant's events are kept")
    .option('--default', "return the tenant to the gateway's default (RETENTION_DEFAULT)")
    .option('--by <name>', 'who is changing it, as the recorded event names them (default: your login name)')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nperiod: 30d, 6w, 13mo, 7y (days, weeks, months, years; or P30D, P13M, P7Y), or forever. Without it (and\n' +
        'without --default), prints the current policy. A change is recorded as audit.retention.changed in the\n' +
        "tenant's chain. The retention job of a serving gateway applies it (RETENTION_INTERVAL_SECONDS).\n" +
        environmentHelp(RETENTION_VARIABLES),
    )
    .action(
      async (
        slug: string,
        period: string | undefined,
        opts: { default?: boolean; by?: string; json?: boolean },
      ) => {
        if (period !== undefined && opts.default)
          throw new InvalidArgumentError('give a period or --default, not both');
        const by = operatorNamed(opts.by);
        await cli.withTenantGateway(slug, async (gateway, operator) => {
          const status =
            period !== undefined || opts.default
              ? await gateway.retention.setPeriod(operator, period ?? null, by, 'period')
              : await gateway.retention.status(operator);
          print(!!opts.json, status, describe(status));
        });
      },
    );

  tenants
    .command('legal-hold <slug> [state]')
    .description('show, place (on) or lift (off) a legal hold: while on hold nothing of the tenant is pruned')
    .option('--reason <text>', 'why (required to place a hold; recorded with it)')
    .option(
      '--by <name>',
      'who places or lifts it, as the recorded event names them (default: your login name)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      "\nPlacing and lifting are recorded as audit.legal_hold.placed / audit.legal_hold.lifted in the tenant's\n" +
        'chain. While on hold, the retention job skips the tenant and `prune` refuses it.\n' +
        environmentHelp(GATEWAY_VARIABLES),
    )
    .action(
      async (
        slug: string,
        state: string | undefined,
        opts: { reason?: string; by?: string; json?: boolean },
      ) => {
        if (state !== undefined && state !== 'on' && state !== 'off')
          throw new InvalidArgumentError('state must be on or off');
        const reason = opts.reason?.trim();
        if (state === 'on' && !reason)
          throw new InvalidArgumentError('--reason is required to place a legal hold');
        const by = operatorNamed(opts.by);
        await cli.withTenantGateway(slug, async (gateway, operator) => {
          const status =
            state === 'on'
              ? await gateway.retention.placeHold(operator, by, reason as string)
              : state === 'off'
                ? await gateway.retention.liftHold(operator, by, reason)
                : await gateway.retention.status(operator);
          print(!!opts.json, status, describe(status));
        });
      },
    );

  program
    .command('retention')
    .description(
      "apply every tenant's retention policy once now (what a serving gateway does every RETENTION_INTERVAL_SECONDS)",
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(RETENTION_VARIABLES))
    .action(async (opts: { json?: boolean }) => {
      await cli.withGateway(async (gateway) => {
        const run = await gateway.retention.apply();
        const lines = [
          ...(run.ran ? [] : ['another instance is applying retention now; nothing done']),
          ...run.pruned.map(
            ({ tenant, result }) =>
              `${tenant}: removed ${result.removed} (sequences ${result.fromSequence} to ${result.throughSequence})`,
          ),
          ...run.held.map((tenant) => `${tenant}: on legal hold, not pruned`),
          ...run.failed.map(({ tenant, error }) => `${tenant}: failed: ${error}`),
        ];
        print(!!opts.json, run, lines.join('\n') || 'nothing is past retention');
        if (run.failed.length > 0) process.exitCode = 1;
      });
    });
}
