// Gathers the type files and builds the schema: the type files declare their own fields on the
// root types, which this file declares (with their descriptions) and nothing else.
import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.ts';
import './audit-event.ts';
import './chain.ts';
import './live-tail.ts';
import './log-stream.ts';
import './viewer.ts';
import './viewer-token.ts';

builder.queryType({ description: "Read your tenant's audit events." });
builder.mutationType({ description: 'Record audit events.' });
builder.subscriptionType({ description: "Follow your tenant's audit events as they are committed." });

export const schema = lexicographicSortSchema(builder.toSchema());
