// Every list a request hands the server, as an argument or inside an input object, written in the
// document or passed in variables, is bounded before execution starts. The token limit sees only
// the document and the cost estimate only what it prices; a list of 200,000 ids in variables
// passed both. Refused: BAD_USER_INPUT naming the argument (e.g. `filter.actions`) and the limit.
import {
  type ArgumentNode,
  type DocumentNode,
  GraphQLError,
  type GraphQLInputType,
  type GraphQLSchema,
  getNullableType,
  isInputObjectType,
  isListType,
  Kind,
  TypeInfo,
  valueFromASTUntyped,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { COUNT_LIMITS } from '../audit/counts.ts';
import { LIST_FILTER_NAMES, MAX_FILTER_VALUES } from '../audit/filters.ts';
import { MAX_READ_FILTER_VALUES } from '../audit/read-log.ts';
import { MAX_BATCH } from '../audit/service.ts';
import { SCOPES } from '../audit/viewer.ts';
import { MAX_RESTRICTION_VALUES } from '../auth/viewer-tokens.ts';
import { ValidationError } from '../errors.ts';
import { MAX_NATS_SERVERS } from '../streams/service.ts';
import { domainToGraphQLError } from './errors.ts';

/** The most ids one `nodes` call may ask for. */
export const MAX_NODE_IDS = 100;

/**
 * The most items each list input may hold, by schema coordinate. Each one is stated in the
 * description of the argument or of its input type; test/graphql-limits.test.ts keeps this table
 * complete and the descriptions true.
 */
export const LIST_LIMITS: Readonly<Record<string, number>> = {
  'Query.nodes(ids:)': MAX_NODE_IDS,
  'Mutation.recordEvents(inputs:)': MAX_BATCH,
  'Query.auditEventCounts(groupBy:)': COUNT_LIMITS.dimensions,
  ...Object.fromEntries(LIST_FILTER_NAMES.map((name) => [`AuditEventFilter.${name}`, MAX_FILTER_VALUES])),
  'CreateLogStreamInput.actions': MAX_FILTER_VALUES,
  'AuditReadFilter.keyIds': MAX_READ_FILTER_VALUES,
  'AuditReadFilter.surfaces': MAX_READ_FILTER_VALUES,
  'AuditReadFilter.kinds': MAX_READ_FILTER_VALUES,
  'LogStreamNatsInput.servers': MAX_NATS_SERVERS,
  'CreateViewerTokenInput.scopes': SCOPES.length,
  'ViewerRestrictionInput.actorIds': MAX_RESTRICTION_VALUES,
  'ViewerRestrictionInput.targetIds': MAX_RESTRICTION_VALUES,
  'ViewerRestrictionInput.groupIds': MAX_RESTRICTION_VALUES,
  'ViewerRestrictionInput.actions': MAX_RESTRICTION_VALUES,
};

/** A list added to the schema but not to the table is still bounded. */
const UNLISTED_LIMIT = 100;

/** The first list in the operation that holds more items than allowed, as a GraphQL error. */
export function findOverlongList(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName?: string | null,
): GraphQLError | undefined {
  const typeInfo = new TypeInfo(schema);
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  let refusal: GraphQLError | undefined;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      // Only the operation that runs: another one in the document may use the same variable names.
      OperationDefinition: (node) =>
        operations.length > 1 && node.name?.value !== operationName ? false : undefined,
      Argument: (node) => {
        if (refusal) return false;
        const arg = typeInfo.getArgument();
        if (!arg) return false;
        const directive = typeInfo.getDirective();
        const owner = directive
          ? `@${directive.name}`
          : `${typeInfo.getParentType()?.name}.${typeInfo.getFieldDef()?.name}`;
        const value = valueFromASTUntyped(node.value, variables);
        const found = overlong(value, arg.type, `${owner}(${arg.name}:)`, arg.name);
        if (found) refusal = refuse(found, node);
        return false;
      },
    }),
  );
  return refusal;
}

type Overlong = { path: string; limit: number; length: number };

function overlong(
  value: unknown,
  type: GraphQLInputType,
  coordinate: string,
  path: string,
): Overlong | undefined {
  if (value === null || value === undefined) return undefined;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = nullable.ofType as GraphQLInputType;
    // A single value where a list is expected is coerced to a list of one.
    if (!Array.isArray(value)) return overlong(value, item, coordinate, path);
    const limit = LIST_LIMITS[coordinate] ?? UNLISTED_LIMIT;
    if (value.length > limit) return { path, limit, length: value.length };
    for (let i = 0; i < value.length; i++) {
      const found = overlong(value[i], item, coordinate, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isInputObjectType(nullable) && typeof value === 'object') {
    const fields = value as Record<string, unknown>;
    for (const field of Object.values(nullable.getFields())) {
      if (!Object.hasOwn(fields, field.name)) continue;
      const found = overlong(
        fields[field.name],
        field.type,
        `${nullable.name}.${field.name}`,
        `${path}.${field.name}`,
      );
      if (found) return found;
    }
  }
  return undefined;
}

function refuse({ path, limit, length }: Overlong, node: ArgumentNode): GraphQLError {
  const reason = new ValidationError(path, `must hold at most ${limit} items; got ${length}`);
  return domainToGraphQLError(reason, new GraphQLError(reason.message, { nodes: node }), { limit });
}

/** Refuses an operation with an overlong list before any resolver (or the cost estimate) runs. */
export function useListLimits(): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = findOverlongList(
        args.schema,
        args.document,
        (args.variableValues ?? {}) as Record<string, unknown>,
        args.operationName,
      );
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}
