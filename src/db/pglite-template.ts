// A migrated, empty embedded database, packed once by `npm run build` (which `npm ci` runs), so
// that a new DATA_DIR (the first `npm start`) unpacks it instead of running initdb in
// WebAssembly, which takes several seconds. Keyed by PGlite's version, since its on-disk format
// may change between versions; migrations still run after loading, so a template older than
// drizzle/ only gets the newer ones. Without a template, PGlite creates the database as before.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations } from './migrate.ts';
import { PGLITE_EXTENSIONS } from './pglite-extensions.ts';

// Its package.json is not exported; it sits beside the dist/ folder the entry point is in.
const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
const pgliteVersion = (
  JSON.parse(readFileSync(path.join(path.dirname(pgliteEntry), '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** In dist/ (gitignored), from src/db and dist/db alike. */
export const templateFile = fileURLToPath(
  new URL(`../../dist/pglite-template-${pgliteVersion}.tar.gz`, import.meta.url),
);

/** The packed template, if this install has one for the PGlite in use. */
export function readPgliteTemplate(): Blob | undefined {
  return existsSync(templateFile) ? new Blob([readFileSync(templateFile)]) : undefined;
}

export async function writePgliteTemplate(): Promise<string> {
  const client = await PGlite.create({ extensions: PGLITE_EXTENSIONS });
  try {
    await applyMigrations({ kind: 'pglite', client });
    const dump = await client.dumpDataDir('gzip');
    mkdirSync(path.dirname(templateFile), { recursive: true });
    // Written aside and renamed, so a gateway starting meanwhile never reads half a template.
    const partial = `${templateFile}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, templateFile);
    return templateFile;
  } finally {
    await client.close();
  }
}
