// How many random cases a fast-check property tries. Each property states its full count, which
// CI runs (.ci/run sets PROPERTY_RUNS=full); a local `npm test` runs a quarter of it by default, so
// the suite stays quick on a small, busy machine. PROPERTY_RUNS=<n> runs n cases of every property,
// to hunt longer for a failure (or shorter, to try a change).
const setting = process.env.PROPERTY_RUNS ?? 'quick';

export function propertyRuns(full: number): number {
  if (setting === 'full') return full;
  if (setting === 'quick') return Math.max(10, Math.ceil(full / 4));
  const runs = Number(setting);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`PROPERTY_RUNS must be quick, full or a positive whole number, not "${setting}"`);
  return runs;
}
