// Whether a resolver's own selection asks for a field, looking through fragments: for answers
// that cost more to read when a field is wanted (a connection's stream position must be read in
// the page's snapshot, so the page's resolver has to know).
import { type FieldNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return info.fieldNodes.some((node: FieldNode) => inSelection(node.selectionSet, name, info, new Set()));
}

function inSelection(
  set: SelectionSetNode | undefined,
  name: string,
  info: GraphQLResolveInfo,
  seen: Set<string>,
): boolean {
  for (const s of set?.selections ?? []) {
    if (s.kind === Kind.FIELD && s.name.value === name) return true;
    if (s.kind === Kind.INLINE_FRAGMENT && inSelection(s.selectionSet, name, info, seen)) return true;
    if (s.kind === Kind.FRAGMENT_SPREAD && !seen.has(s.name.value)) {
      seen.add(s.name.value);
      if (inSelection(info.fragments[s.name.value]?.selectionSet, name, info, seen)) return true;
    }
  }
  return false;
}
