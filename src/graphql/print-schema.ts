// Prints the schema as sorted SDL into schema/schema.graphql; with --check, fails when the
// checked-in file differs from what the code defines.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printSchema } from 'graphql';
import { schema } from './schema.ts';

export const schemaFile = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));
export const printedSchema = () => `${printSchema(schema)}\n`;

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--check')) {
    const current = readFileSync(schemaFile, 'utf8');
    if (current !== printedSchema()) {
      process.stderr.write(
        'schema/schema.graphql is out of date: run `npm run schema:print` and commit it\n',
      );
      process.exit(1);
    }
  } else {
    writeFileSync(schemaFile, printedSchema());
  }
}
