// Secrets, tenants, API keys, the signing key's rotation and demo data.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { Command } from 'commander';
import {
  type Cli,
  DATABASE_VARIABLES,
  environmentHelp,
  fail,
  GATEWAY_VARIABLES,
  positiveInt,
  print,
  tenantOf,
} from './resources.ts';

export function registerAdminCommands(program: Command, cli: Cli) {
  program
    .command('secrets')
    .description('make a TOKEN_SECRET and SIGNING_KEY, as lines for a .env file or a shell')
    .option('--out <file>', 'append them to this file (created readable by you only) instead of printing')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  audit-gateway secrets --out .env     then every command (and npm start) reads .env\n' +
        '  eval "$(audit-gateway secrets)"      export them in this shell\n',
    )
    .action((opts: { out?: string }) => {
      const signingKey = generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'der', type: 'pkcs8' })
        .toString('base64');
      // `export NAME=value`: a shell runs it, and .env readers (Node's, dotenv) accept the prefix.
      // Both values are base64 or base64url, so they need no quoting in either.
      const lines = `export TOKEN_SECRET=${randomBytes(32).toString('base64url')}\nexport SIGNING_KEY=${signingKey}\n`;
      if (!opts.out) {
        process.stdout.write(lines);
        process.stderr.write(
          'audit-gateway: keep these private; changing SIGNING_KEY later needs the old key to verify old checkpoints\n',
        );
        return;
      }
      const existing = existsSync(opts.out) ? parseEnv(readFileSync(opts.out, 'utf8')) : {};
      const already = ['TOKEN_SECRET', 'SIGNING_KEY'].filter((name) => existing[name] !== undefined);
      if (already.length > 0) {
        fail(
          `error: ${opts.out} already sets ${already.join(' and ')}; not replacing secrets that may be in use`,
        );
      }
      const fd = openSync(opts.out, 'a', 0o600);
      try {
        // It holds secrets now, whoever could read it before.
        fchmodSync(fd, 0o600);
        const text = readFileSync(opts.out, 'utf8');
        writeSync(fd, `${text.length > 0 && !text.endsWith('\n') ? '\n' : ''}${lines}`);
      } finally {
        closeSync(fd);
      }
      process.stderr.write(`audit-gateway: wrote TOKEN_SECRET and SIGNING_KEY to ${opts.out}\n`);
    });

  const tenants = program.command('tenants').description('manage tenants');
  tenants
    .command('create <slug>')
    .description('create a tenant')
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async (slug: string, opts: { json?: boolean }) => {
      const { createTenant, validateSlug } = await import('../auth/admin.ts');
      validateSlug(slug);
      await cli.withDatabase(async (db) => {
        const tenant = await createTenant(db, slug);
        print(!!opts.json, tenant, `created tenant ${tenant.slug} (id ${tenant.id})`);
      });
    });
  tenants
    .command('list')
    .description('list tenants')
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async (opts: { json?: boolean }) => {
      const { listTenants } = await import('../auth/admin.ts');
      await cli.withDatabase(async (db) => {
        const all = await listTenants(db);
        print(!!opts.json, all, all.map((t) => `${t.id}\t${t.slug}`).join('\n'));
      });
    });

  tenants
    .command('read-log <slug> [state]')
    .description("show, or turn on or off, the recording of a tenant's reads (who read the trail)")
    .addHelpText(
      'after',
      '\nstate: on or off; without it, prints the current state. Turning it on or off is itself recorded as an\n' +
        "event in the tenant's chain (audit.read_log.enabled / audit.read_log.disabled), so the gap shows.\n" +
        environmentHelp(GATEWAY_VARIABLES),
    )
    .option('--json', 'machine-readable output')
    .action(async (slug: string, state: string | undefined, opts: { json?: boolean }) => {
      if (state !== undefined && state !== 'on' && state !== 'off') fail('state must be on or off');
      const { listTenantSettings, setReadLog } = await import('../auth/admin.ts');
      await cli.withTenantGateway(slug, async (gateway, operator, tenant) => {
        if (state !== undefined) {
          await setReadLog(gateway.database, slug, state === 'on');
          await gateway.audit.recordEvent(operator, {
            action: state === 'on' ? 'audit.read_log.enabled' : 'audit.read_log.disabled',
            title: state === 'on' ? 'Read log turned on' : 'Read log turned off',
            description:
              state === 'on'
                ? 'Reads of this tenant are recorded again from now on.'
                : 'Reads of this tenant are no longer recorded, until the read log is turned on again.',
            actor: { id: 'operator', type: 'OPERATOR' },
          });
        }
        const settings = (await listTenantSettings(gateway.database)).find((t) => t.id === tenant.id);
        const on = settings?.readLog ?? true;
        print(!!opts.json, { tenant: slug, readLog: on }, `read log of ${slug}: ${on ? 'on' : 'off'}`);
      });
    });

  const keys = program.command('keys').description('manage API keys');
  keys
    .command('create')
    .description('create an API key for a tenant; the key is shown once')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--scopes <list>', 'comma-separated: read, write, read_log', 'read')
    .option('--name <name>', 'a note to recognise the key by')
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async (opts: { tenant: string; scopes: string; name?: string; json?: boolean }) => {
      const { createApiKey, parseScopes } = await import('../auth/admin.ts');
      const scopes = parseScopes(opts.scopes);
      await cli.withDatabase(async (db) => {
        const created = await createApiKey(db, opts.tenant, scopes, opts.name ?? null);
        print(
          !!opts.json,
          {
            key: created.key,
            id: created.id,
            tenant: created.tenant.slug,
            tenantId: created.tenant.id,
            scopes: created.scopes,
          },
          `${created.key}\n(key id ${created.id}, tenant ${created.tenant.slug}, scopes ${created.scopes.join(',')}; store it now, it is not shown again)`,
        );
      });
    });
  keys
    .command('revoke <keyId>')
    .description('revoke an API key (by id, or the whole key); effective on the next request')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async (keyId: string) => {
      const { revokeApiKey } = await import('../auth/admin.ts');
      await cli.withDatabase(async (db) => {
        await revokeApiKey(db, keyId);
        process.stdout.write(`revoked ${keyId}\n`);
      });
    });
  keys
    .command('list')
    .description('list the API keys of a tenant (ids and scopes, never secrets)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(DATABASE_VARIABLES))
    .action(async (opts: { tenant: string; json?: boolean }) => {
      const { listApiKeys } = await import('../auth/admin.ts');
      await cli.withDatabase(async (db) => {
        const tenant = await tenantOf(db, opts.tenant);
        const all = await listApiKeys(db, tenant.id);
        print(
          !!opts.json,
          all,
          all
            .map(
              (k) =>
                `${k.id}\t${k.scopes.join(',')}\t${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'live'}\t${k.name ?? ''}`,
            )
            .join('\n'),
        );
      });
    });

  keys
    .command('rotate-signing')
    .description(
      'make a new chain signing key and retire the current one (its public key keeps verifying old checkpoints)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(['DATA_DIR', 'SIGNING_KEY', 'SIGNING_KEY_PREVIOUS']))
    .action(async (opts: { json?: boolean }) => {
      const { rotateSigningKey } = await import('../secrets.ts');
      const rotation = rotateSigningKey(cli.settings().config);
      const text = rotation.environment
        ? `new signing key ${rotation.newKeyId}; key ${rotation.retiredKeyId} retires. Set, then restart every instance:\n` +
          `SIGNING_KEY=\n${rotation.environment.SIGNING_KEY}\n\nSIGNING_KEY_PREVIOUS=\n${rotation.environment.SIGNING_KEY_PREVIOUS}`
        : `new signing key ${rotation.newKeyId} written to ${rotation.writtenTo}; key ${rotation.retiredKeyId} retired ` +
          '(its public key kept beside it). Restart the gateway.';
      print(!!opts.json, rotation, text);
    });

  program
    .command('seed')
    .description('record realistic demo events for a tenant (through the normal ingest path)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--events <n>', 'how many events', positiveInt)
    .option('--seed <n>', 'random seed, for repeatable data', positiveInt, 1)
    .option('--days <n>', 'spread over this many past days', positiveInt, 90)
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(async (opts: { tenant: string; events: number; seed: number; days: number; json?: boolean }) => {
      const [{ demoEvents }, { recordDemoEvents, terminalProgress }] = await Promise.all([
        import('../demo/events.ts'),
        import('../demo/seed.ts'),
      ]);
      await cli.withTenantGateway(opts.tenant, async (gateway, operator, tenant) => {
        const events = demoEvents({
          count: opts.events,
          seed: opts.seed,
          now: new Date(),
          spanDays: opts.days,
        });
        const stored = await recordDemoEvents(
          gateway.audit,
          operator,
          events,
          opts.events,
          terminalProgress('recording events'),
        );
        print(!!opts.json, { tenant: tenant.slug, stored }, `recorded ${stored} events for ${tenant.slug}`);
      });
    });
}
