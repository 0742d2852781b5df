// Query cost, computed with the request's variables before any resolver runs: a field costs 1
// plus its children, and a list field's children count once per item it may return (`first`,
// `last`, the ids of `nodes`, the inputs of `recordEvents`; list lengths are bounded before this
// runs, see list-limits.ts). Fields that scan or re-hash the tenant's data are priced by the most
// work they can do, so that aliases cannot multiply it. Too costly: refused with QUERY_TOO_COSTLY
// naming the limit and the cost.
import { GraphQLError } from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import { VERIFY_LIMIT } from '../audit/chain-service.ts';
import { PAGE } from '../audit/service.ts';

/**
 * Prices of the fields whose work grows with the tenant, not with the answer. Against the limit of
 * 50,000 (GRAPHQL_LIMITS.cost): one whole-chain verification per request, at most two counts
 * (totalCount or auditEventCounts).
 */
export const PRICES = {
  /** `verifyChain` over the whole chain (or VERIFY_LIMIT events); a shorter range pays its share. */
  wholeChainVerification: 30_000,
  /** `totalCount`: a count over every matching event. */
  totalCount: 20_000,
  /** `auditEventCounts`: a count over every matching event, grouped. */
  eventCounts: 20_000,
} as const;

/** What `verifyChain(fromSequence, toSequence)` may re-hash: a known range pays for its length. */
function verifyChainPrice(args: Record<string, unknown>): number {
  const from = typeof args.fromSequence === 'number' ? Math.max(args.fromSequence, 1) : 1;
  const to = typeof args.toSequence === 'number' ? args.toSequence : undefined;
  const events = to === undefined ? VERIFY_LIMIT : Math.min(Math.max(to - from + 1, 1), VERIFY_LIMIT);
  return Math.ceil((PRICES.wholeChainVerification * events) / VERIFY_LIMIT);
}

/** The price of a field that scans the tenant, or undefined for an ordinary field. */
function scanPrice(typeName: string, fieldName: string, args: Record<string, unknown>): number | undefined {
  if (typeName === 'Query' && fieldName === 'verifyChain') return verifyChainPrice(args);
  if (fieldName === 'totalCount' && typeName.endsWith('Connection')) return PRICES.totalCount;
  if (typeName === 'Query' && fieldName === 'auditEventCounts') return PRICES.eventCounts;
  return undefined;
}

/**
 * The scans of an operation, each counted once per time it runs. Kept apart from the item count:
 * a page's size multiplies its edges, not the one count beside them.
 */
const scans: ComplexityEstimator = ({ type, field, args, childComplexity }) =>
  (scanPrice(type.name, field.name, args) ?? 0) + childComplexity;

/** The largest page any field serves: `checkpoints(first:)` up to 1000, `auditEvents` up to 500. */
const LARGEST_PAGE = 1000;

const listSize: ComplexityEstimator = ({ args, childComplexity }) => {
  const page =
    typeof args.first === 'number' ? args.first : typeof args.last === 'number' ? args.last : undefined;
  const items =
    page !== undefined
      ? // A larger page is refused by its resolver, naming `first` or `last`; counting it in full
        // here would answer QUERY_TOO_COSTLY instead of saying what is wrong.
        Math.min(page, LARGEST_PAGE)
      : Array.isArray(args.ids)
        ? args.ids.length
        : Array.isArray(args.inputs)
          ? args.inputs.length
          : 'first' in args || 'last' in args
            ? PAGE.defaultSize
            : 1;
  return 1 + childComplexity * Math.max(1, items);
};

export function useCostLimit(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let cost: number;
      try {
        const options = {
          schema: args.schema,
          query: args.document,
          variables: (args.variableValues ?? {}) as Record<string, unknown>,
          operationName: args.operationName ?? undefined,
        };
        cost =
          getComplexity({ ...options, estimators: [listSize] }) +
          getComplexity({ ...options, estimators: [scans] });
      } catch {
        return; // invalid variables: execution reports them as BAD_USER_INPUT
      }
      if (cost > maxCost) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `Query cost ${cost} exceeds the limit of ${maxCost}; ask for fewer items or fields ` +
                `(verifyChain costs up to ${PRICES.wholeChainVerification}, totalCount ${PRICES.totalCount}, auditEventCounts ${PRICES.eventCounts})`,
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
