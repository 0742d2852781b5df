// GraphQL Code Generator: typed documents for every operation the tests send, generated from
// the checked-in schema. `npm run codegen` writes them; `npm run check` fails when they are stale.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/**/*.ts', '!test/gql/**'],
  ignoreNoDocuments: true,
  generates: {
    'test/gql/': {
      preset: 'client',
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: {
          DateTime: 'string',
          EmailAddress: 'string',
          IPAddress: 'string',
          JSONObject: 'Record<string, unknown>',
          SafeInt: 'number',
        },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
