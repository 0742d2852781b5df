// Gathers the type files and builds the schema. Imports only.
import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './audit-event.ts';
import './chain.ts';
import './log-stream.ts';
import './viewer.ts';
import './viewer-token.ts';

builder.queryType({ description: "Read your tenant's audit events." });
builder.mutationType({ description: 'Record audit events.' });

export const schema = lexicographicSortSchema(builder.toSchema());
