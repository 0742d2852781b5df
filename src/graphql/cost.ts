// Query cost, computed with the request's variables before any resolver runs: a field costs 1
// plus its children, and a list field's children count once per item it may return (`first`,
// `last`, the ids of `nodes`, the inputs of `recordEvents`). Too costly: refused with
// QUERY_TOO_COSTLY naming the limit.
import { GraphQLError } from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import { MAX_BATCH, PAGE } from '../audit/service.ts';

const MAX_LIST = Math.max(PAGE.maxSize, MAX_BATCH);

const listSize: ComplexityEstimator = ({ args, childComplexity }) => {
  const items =
    typeof args.first === 'number'
      ? args.first
      : typeof args.last === 'number'
        ? args.last
        : Array.isArray(args.ids)
          ? args.ids.length
          : Array.isArray(args.inputs)
            ? args.inputs.length
            : 'first' in args || 'last' in args
              ? PAGE.defaultSize
              : 1;
  // Beyond the largest page or batch the resolver refuses the size itself, naming the argument.
  return 1 + childComplexity * Math.min(Math.max(1, items), MAX_LIST);
};

export function useCostLimit(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let cost: number;
      try {
        cost = getComplexity({
          schema: args.schema,
          query: args.document,
          variables: (args.variableValues ?? {}) as Record<string, unknown>,
          operationName: args.operationName ?? undefined,
          estimators: [listSize],
        });
      } catch {
        return; // invalid variables: execution reports them as BAD_USER_INPUT
      }
      if (cost > maxCost) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `Query cost ${cost} exceeds the limit of ${maxCost}; ask for fewer items or fields`,
              {
                extensions: { code: 'QUERY_TOO_COSTLY', limit: maxCost, cost, http: { status: 400 } },
              },
            ),
          ],
        });
      }
    },
  };
}
