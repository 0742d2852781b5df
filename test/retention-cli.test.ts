// Retention from the shipped command line (docs/retention.md): setting a period with its
// validation error, placing and lifting a legal hold, `prune` refusing a held tenant (alone, or
// among all of them with exit status 1), one round of the job, and the chain verifying after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliOutcome, ensureCompiledCli, runCompiledCli, scratchCliStore } from './support/cli.ts';

let bin: string;
let env: Record<string, string>;
let cleanup: () => Promise<void>;
let workDir: string;

beforeAll(async () => {
  bin = await ensureCompiledCli();
  ({ env, workDir, cleanup } = await scratchCliStore('retention'));
});
afterAll(async () => {
  await cleanup?.();
});

type Outcome = CliOutcome;

function cli(...args: string[]): Promise<Outcome> {
  return runCompiledCli(bin, args, {
    env: { ...env, NODE_ENV: 'development', DOTENV_FILE: 'none' },
    cwd: workDir,
  });
}

async function json<T>(...args: string[]): Promise<T> {
  const out = await cli(...args, '--json');
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as T;
}

describe('retention from the command line', { timeout: 240_000 }, () => {
  it('sets a period, holds a tenant, refuses its prune, and prunes once the hold is lifted', async () => {
    for (const slug of ['acme', 'beta']) expect((await cli('tenants', 'create', slug)).code).toBe(0);
    for (const slug of ['acme', 'beta'])
      expect((await cli('seed', '--tenant', slug, '--events', '5', '--days', '1')).code).toBe(0);

    const bad = await cli('tenants', 'retention', 'acme', '13m');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('period: "13m" is ambiguous: write 13mo for months');
    expect(await json('tenants', 'retention', 'acme', '7y', '--by', 'alice')).toMatchObject({
      tenant: 'acme',
      period: 'P7Y',
      effective: 'P7Y',
      hold: null,
    });
    expect((await cli('tenants', 'retention', 'acme')).stdout).toContain('acme: retention P7Y;');

    const noReason = await cli('tenants', 'legal-hold', 'acme', 'on');
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain('--reason is required');
    expect(
      await json('tenants', 'legal-hold', 'acme', 'on', '--reason', 'subpoena 42', '--by', 'alice'),
    ).toMatchObject({ hold: { by: 'alice', reason: 'subpoena 42' } });

    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const one = await cli('prune', '--before', tomorrow, '--tenant', 'acme');
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/acme is on legal hold since .* \(placed by alice: subpoena 42\)/);

    const every = await cli('prune', '--before', tomorrow, '--by', 'carol', '--json');
    expect(every.code).toBe(1);
    const results = JSON.parse(every.stdout) as { tenant: string; removed: number; refused?: string }[];
    expect(results.find((r) => r.tenant === 'acme')?.refused).toContain('is on legal hold');
    expect(results.find((r) => r.tenant === 'beta')).toMatchObject({
      removed: 5,
      fromSequence: 1,
      throughSequence: 5,
    });

    expect((await cli('tenants', 'legal-hold', 'acme', 'off', '--by', 'bob')).code).toBe(0);
    // acme: 5 seeded, the policy change, the hold and its lift.
    expect(await json('prune', '--before', tomorrow, '--tenant', 'acme', '--by', 'bob')).toEqual([
      expect.objectContaining({ tenant: 'acme', removed: 8, fromSequence: 1, throughSequence: 8 }),
    ]);
    const verified = await json<{ status: string; from: number }>('verify', '--tenant', 'acme');
    expect(verified).toMatchObject({ status: 'intact', from: 9 });

    // One round of the job: both tenants keep events forever by default, so nothing goes.
    expect(await json('retention')).toEqual({ ran: true, pruned: [], held: [], failed: [] });
  });
});
