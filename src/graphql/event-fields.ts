// Which AuditEvent fields an operation reads, so that its event reads select only their columns
// (projection). Computed once per parsed document: yoga's parser cache hands the same document
// object to every request that sends the same text, so a WeakMap on it is a per-document cache.
import { type DocumentNode, type GraphQLSchema, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { EVENT_FIELDS, type EventField } from '../audit/model.ts';

const known = new Set<string>(EVENT_FIELDS);
const cache = new WeakMap<DocumentNode, ReadonlySet<EventField> | null>();

/**
 * Every AuditEvent field the document selects anywhere (through fragments, inline fragments and
 * aliases alike), or undefined when it selects one this module cannot map to columns: then the
 * reads select every column, which is always correct.
 */
export function eventFieldsOf(
  schema: GraphQLSchema,
  document: DocumentNode,
): ReadonlySet<EventField> | undefined {
  let fields = cache.get(document);
  if (fields === undefined) {
    fields = collect(schema, document);
    cache.set(document, fields);
  }
  return fields ?? undefined;
}

function collect(schema: GraphQLSchema, document: DocumentNode): ReadonlySet<EventField> | null {
  const typeInfo = new TypeInfo(schema);
  const fields = new Set<EventField>();
  let unknown = false;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (typeInfo.getParentType()?.name !== 'AuditEvent') return;
        const name = node.name.value;
        if (name === '__typename') return;
        if (known.has(name)) fields.add(name as EventField);
        else unknown = true;
      },
    }),
  );
  return unknown ? null : fields;
}
