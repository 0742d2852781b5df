// The seams of src/, as ARCHITECTURE.md draws them, checked on every run (after hackers-pub's
// package-boundary test): who may build SQL, who may reach a repository, and that no module
// imports a layer above its own. A failure names the file, what it imports and the rule.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layers, lowest first. A module may import its own layer and the ones below it, never one
 * above. A file belongs to the layer of its longest matching entry, so `src/http/http-env.ts`
 * (the request's typed variables, which the transports read) sits below the rest of `src/http/`.
 */
const LAYERS: readonly { name: string; paths: readonly string[] }[] = [
  {
    name: 'foundation',
    paths: ['src/errors.ts', 'src/config.ts', 'src/logger.ts', 'src/metrics.ts', 'src/retention-period.ts'],
  },
  { name: 'database', paths: ['src/db/'] },
  { name: 'audit domain', paths: ['src/audit/'] },
  { name: 'auth', paths: ['src/auth/'] },
  // Delivers the audit domain's events to outside systems; the transports and the root use it.
  { name: 'log streams', paths: ['src/streams/'] },
  { name: 'demo data and secrets', paths: ['src/demo/', 'src/secrets.ts'] },
  { name: 'request plumbing', paths: ['src/http/http-env.ts', 'src/http/tracing.ts'] },
  { name: 'transports', paths: ['src/graphql/', 'src/rest/'] },
  { name: 'http server', paths: ['src/http/'] },
  { name: 'composition root', paths: ['src/gateway.ts'] },
  { name: 'command line', paths: ['src/cli/', 'src/main.ts'] },
];

/** Modules that build SQL: the Drizzle tables and operators are theirs (and the database layer's). */
const isRepository = (file: string) => /\/repository(\.ts$|\/)/.test(file);

/** `src/audit/service.ts` → `audit`: a repository serves the modules of its own folder. */
const folderOf = (file: string) => file.split('/')[1];

type Import = { from: string; to: string };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return /\.ts$/.test(name) ? [full.split(path.sep).join('/')] : [];
  });
}

/** Every static, type-only, re-exported and dynamic import of a file, resolved when relative. */
function importsOf(file: string, text = readFileSync(file, 'utf8')): Import[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers = [
    ...code.matchAll(/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g),
    ...code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
  ].map((m) => m[1] as string);
  return specifiers.map((spec) => ({
    from: file,
    to: spec.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)) : spec,
  }));
}

function layerOf(file: string): number {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((layer, rank) => {
    for (const p of layer.paths) {
      if ((file === p || (p.endsWith('/') && file.startsWith(p))) && p.length > bestLength) {
        best = rank;
        bestLength = p.length;
      }
    }
  });
  return best;
}

/** The rules, each a list of violations (empty when kept). */
function violations(imports: readonly Import[]) {
  const local = imports.filter((i) => i.to.startsWith('src/'));
  return {
    sql: imports
      .filter(
        (i) =>
          (/^drizzle-orm(\/|$)/.test(i.to) || i.to === 'src/db/schema.ts') &&
          !isRepository(i.from) &&
          !i.from.startsWith('src/db/'),
      )
      .map((i) => `${i.from} imports ${i.to}: only repositories (and src/db/) build SQL`),
    // A repository may build on another's SQL pieces (the tenant transaction, the event row
    // mapping); everything else reaches SQL only through its own folder's repository.
    repositories: local
      .filter((i) => isRepository(i.to) && !isRepository(i.from) && folderOf(i.from) !== folderOf(i.to))
      .map((i) => `${i.from} imports ${i.to}: a repository is reached only through its own folder's service`),
    transports: local
      .filter(
        (i) =>
          (i.from.startsWith('src/graphql/') && i.to.startsWith('src/rest/')) ||
          (i.from.startsWith('src/rest/') && i.to.startsWith('src/graphql/')),
      )
      .map((i) => `${i.from} imports ${i.to}: the transports share the service layer, not each other`),
    upward: local
      .filter((i) => layerOf(i.to) > layerOf(i.from))
      .map(
        (i) =>
          `${i.from} (${LAYERS[layerOf(i.from)]?.name}) imports ${i.to} (${LAYERS[layerOf(i.to)]?.name}): nothing imports a layer above its own`,
      ),
  };
}

describe('the seams of src/', () => {
  const files = sourceFiles('src');
  const imports = files.flatMap((f) => importsOf(f));

  it('puts every source file in a layer', () => {
    expect(files.filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('lets only repositories import drizzle-orm and src/db/schema.ts', () => {
    expect(violations(imports).sql).toEqual([]);
  });

  it('keeps graphql/ and rest/ (and everything else outside the domain) away from the repositories', () => {
    expect(violations(imports).repositories).toEqual([]);
  });

  it('keeps the two transports apart', () => {
    expect(violations(imports).transports).toEqual([]);
  });

  it('has no module import a layer above its own', () => {
    expect(violations(imports).upward).toEqual([]);
  });

  it('would catch a transport that reaches for SQL or a repository', () => {
    const broken = importsOf(
      'src/rest/example.ts',
      "import { sql } from 'drizzle-orm';\nimport * as repo from '../audit/repository.ts';\nimport { openGateway } from '../gateway.ts';\n",
    );
    const found = violations(broken);
    expect(found.sql).toHaveLength(1);
    expect(found.repositories).toHaveLength(1);
    expect(found.upward).toHaveLength(1);
  });
});
