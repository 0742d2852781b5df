// The hash chain from the command line: verify (database or an export, offline), export,
// checkpoint now, prune.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { DroppedMonth } from '../audit/chain-service.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../audit/export-format.ts';
import { type EventFilter, LIST_FILTER_NAMES, LIST_FILTERS } from '../audit/filters.ts';
import {
  EXIT_STATUS,
  type SignedStatementText,
  summarizeVerification,
  type VerificationResult,
  type VerificationStatus,
} from '../audit/verify.ts';
import { operatorViewer } from '../audit/viewer.ts';
import { type Cli, environmentHelp, GATEWAY_VARIABLES, positiveInt, print, tenantOf } from './resources.ts';

export function registerChainCommands(program: Command, cli: Cli) {
  program
    .command('verify')
    .description("verify a tenant's hash chain from the database, or an exported file offline")
    .option('--tenant <slug>', "verify this tenant's chain in the database")
    .option('--from <seq>', 'first sequence number (database mode)', positiveInt)
    .option('--to <seq>', 'last sequence number (database mode)', positiveInt)
    .option('--file <path>', 'verify an export (NDJSON) offline, without database access')
    .option('--public-key <path>', 'PEM public key for --file (from /.well-known/audit-signing-key.pem)')
    .option(
      '--checkpoint <path>',
      'a signed checkpoint kept outside the database (JSON {statement, signature})',
    )
    .option('--json', 'machine-readable output')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(
      async (opts: {
        tenant?: string;
        from?: number;
        to?: number;
        file?: string;
        publicKey?: string;
        checkpoint?: string;
        json?: boolean;
      }) => {
        const checkpoint = readCheckpoint(opts.checkpoint);
        if (opts.file) {
          if (!opts.publicKey) throw new InvalidArgumentError('--file needs --public-key');
          const [{ KeyRing }, { createReadStream }, { createInterface }, { verifyExportFile }] =
            await Promise.all([
              import('../audit/signer.ts'),
              import('node:fs'),
              import('node:readline'),
              import('../audit/export-file.ts'),
            ]);
          const publicKeys = KeyRing.parse(readFileSync(opts.publicKey, 'utf8'));
          const lines = createInterface({
            input: createReadStream(opts.file),
            crlfDelay: Number.POSITIVE_INFINITY,
          });
          printVerification(!!opts.json, await verifyExportFile(lines, publicKeys, checkpoint));
          return;
        }
        if (!opts.tenant)
          throw new InvalidArgumentError('give --tenant <slug> (database) or --file <export> (offline)');
        const slug = opts.tenant;
        await cli.withTenantGateway(slug, async (gateway, operator) => {
          printVerification(
            !!opts.json,
            await gateway.chain.verify(operator, {
              fromSeq: opts.from,
              toSeq: opts.to,
              checkpoint,
            }),
          );
        });
      },
    );

  const exportCommand = program
    .command('export')
    .description(
      "write a tenant's chain (events with hashes, signed checkpoints) as NDJSON for offline verification, " +
        'or with --format csv|ndjson the events a filter matches (docs/analysts.md#exports)',
    )
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--out <path>', 'file to write (default: standard output)')
    .option(
      '--format <format>',
      'chain (the whole chain, default), ndjson (matching events with inclusion proof) or csv',
      (v: string) => {
        if (!['chain', ...EXPORT_FORMATS].includes(v))
          throw new InvalidArgumentError(`must be chain, ${EXPORT_FORMATS.join(' or ')}`);
        return v;
      },
      'chain',
    )
    .option('--since <time>', 'only events that occurred at or after this RFC 3339 time')
    .option('--until <time>', 'only events that occurred before this RFC 3339 time')
    .option('--search <text>', 'free text, as filter.search in GraphQL (docs/analysts.md#search)')
    .option('--after <cursor>', 'resume after the row or line this cursor came from')
    .option('--bom', 'csv: start with a UTF-8 byte order mark (for Excel)');
  for (const name of LIST_FILTER_NAMES)
    exportCommand.option(`--${kebab(name)} <values...>`, LIST_FILTERS[name].description);
  exportCommand
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(async (opts: Record<string, unknown> & { tenant: string; out?: string; format: string }) => {
      const [{ createWriteStream }, { Readable }, { pipeline }, { parseDateTime }] = await Promise.all([
        import('node:fs'),
        import('node:stream'),
        import('node:stream/promises'),
        import('../audit/time.ts'),
      ]);
      const time = (flag: string, v: unknown) => {
        if (v === undefined) return undefined;
        const parsed = parseDateTime(String(v));
        if (typeof parsed === 'string') throw new InvalidArgumentError(`--${flag} ${parsed}`);
        return parsed;
      };
      const filter: EventFilter = {
        since: time('since', opts.since),
        until: time('until', opts.until),
        search: opts.search as string | undefined,
      };
      for (const name of LIST_FILTER_NAMES) if (opts[name]) filter[name] = opts[name] as string[];
      const filtered = Object.values(filter).some((v) => v !== undefined) || opts.after !== undefined;
      if (opts.format === 'chain' && filtered)
        throw new InvalidArgumentError('filters and --after need --format csv or ndjson');
      await cli.withTenantGateway(opts.tenant, async (gateway, operator) => {
        const out = opts.out ? createWriteStream(opts.out) : process.stdout;
        if (opts.format === 'chain') {
          await pipeline(Readable.from(gateway.chain.export(operator)), out);
          return;
        }
        const { chunks, progress, throughSeq } = await gateway.exports.exportEvents(operator, {
          filter,
          format: opts.format as ExportFormat,
          after: opts.after as string | undefined,
          bom: opts.bom === true,
        });
        const showProgress = process.stderr.isTTY === true;
        const timer = showProgress
          ? setInterval(() => process.stderr.write(`\rexported ${progress.events} events`), 500)
          : undefined;
        try {
          await pipeline(Readable.from(chunks), out);
        } finally {
          clearInterval(timer);
        }
        if (showProgress)
          process.stderr.write(`\rexported ${progress.events} events (through sequence ${throughSeq})\n`);
      });
    });

  program
    .command('checkpoint')
    .description("sign the tenant's chain head now and print the checkpoint (keep it somewhere else)")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .addHelpText('after', environmentHelp(GATEWAY_VARIABLES))
    .action(async (opts: { tenant: string }) => {
      await cli.withTenantGateway(opts.tenant, async (gateway, operator) => {
        const statement = await gateway.chain.checkpointNow(operator);
        if (!statement) throw new Error(`tenant ${opts.tenant} has no events yet`);
        const stored = await gateway.chain.listCheckpoints(operator, statement.seq - 1, 10);
        const signed = stored.find((c) => c.kind === 'checkpoint' && c.seq === statement.seq);
        process.stdout.write(
          `${JSON.stringify({ statement: signed?.statement, signature: signed?.signature })}\n`,
        );
      });
    });

  program
    .command('prune')
    .description(
      'remove events received before a date, leaving a signed anchor so the rest of the chain verifies',
    )
    .requiredOption('--before <date>', 'RFC 3339 date-time or YYYY-MM-DD (UTC)')
    .option('--tenant <slug>', 'only this tenant (default: every tenant)')
    .option(
      '--by <name>',
      'who is pruning, as the recorded audit.pruned event names them (default: your login name)',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nA tenant on legal hold is refused (with --tenant, an error; otherwise it is listed and the exit status is 1).\n' +
        'See docs/retention.md.\n' +
        environmentHelp(GATEWAY_VARIABLES),
    )
    .action(async (opts: { before: string; tenant?: string; by?: string; json?: boolean }) => {
      const [{ parseDateOnly, parseDateTime }, { listTenants }, { operatorNamed }, { ConflictError }] =
        await Promise.all([
          import('../audit/time.ts'),
          import('../auth/admin.ts'),
          import('./retention.ts'),
          import('../errors.ts'),
        ]);
      const parsed = /^\d{4}-\d{2}-\d{2}$/.test(opts.before)
        ? parseDateOnly(opts.before)
        : parseDateTime(opts.before);
      if (typeof parsed === 'string') throw new InvalidArgumentError(`--before ${parsed}`);
      const cutoff = parsed;
      const actor = operatorNamed(opts.by);
      await cli.withGateway(async (gateway) => {
        const tenants = opts.tenant
          ? [await tenantOf(gateway.database, opts.tenant)]
          : await listTenants(gateway.database);
        const by = { actor, via: 'cli' } as const;
        const results = [];
        const months: DroppedMonth[] = [];
        // Whole months first (each a partition dropped, docs/retention.md), then row by row.
        const due = new Map(tenants.map((t) => [t.id, { viewer: operatorViewer(t), cutoff, by }]));
        try {
          const whole = await gateway.chain.pruneWholeMonths(gateway.database, due);
          months.push(...whole.months);
          for (const { viewer, result } of whole.pruned)
            results.push({ tenant: viewer.tenantSlug, ...result });
        } catch (error) {
          // A tenant on hold keeps its months: the prunes below refuse it by name.
          if (!(error instanceof ConflictError)) throw error;
        }
        for (const tenant of tenants) {
          try {
            const pruned = await gateway.chain.prune(operatorViewer(tenant), gateway.database, cutoff, by);
            if (pruned || !results.some((r) => r.tenant === tenant.slug))
              results.push({ tenant: tenant.slug, ...(pruned ?? { removed: 0 }) });
          } catch (error) {
            // A held tenant among all of them: say so and go on with the others.
            if (opts.tenant || !(error instanceof ConflictError)) throw error;
            results.push({ tenant: tenant.slug, removed: 0, refused: error.message });
            process.exitCode = 1;
          }
        }
        // On stderr, so that --json stays the list of prunes it always was.
        for (const m of months)
          process.stderr.write(
            `${m.partition}: dropped whole, ${m.events} events of ${m.tenants} tenants, in ${m.ms} ms (${m.lockedMs} ms holding the events table's lock)\n`,
          );
        print(
          !!opts.json,
          results,
          results
            .map((r) =>
              'refused' in r
                ? `${r.tenant}: refused: ${r.refused}`
                : `${r.tenant}: removed ${r.removed}${'throughSequence' in r ? ` (sequences ${r.fromSequence} to ${r.throughSequence})` : ''}`,
            )
            .join('\n'),
        );
      });
    });
}

/** `actorIds` → `actor-ids`: the flag commander reads back as `actorIds`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function readCheckpoint(file: string | undefined): SignedStatementText | undefined {
  if (!file) return undefined;
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<SignedStatementText>;
  if (typeof parsed.statement !== 'string' || typeof parsed.signature !== 'string') {
    throw new Error(`${file} is not a signed checkpoint ({"statement": "...", "signature": "..."})`);
  }
  return { statement: parsed.statement, signature: parsed.signature };
}

function printVerification(
  json: boolean,
  report: VerificationResult & { status: VerificationStatus; unknownKeyIds: string[] },
) {
  print(json, report, summarizeVerification(report));
  process.exitCode = EXIT_STATUS[report.status];
}
