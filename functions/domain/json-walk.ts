/** Walking a JSON document without recursion, so no nesting a client sends can overflow the stack. */

/** A JSON object: not null, not an array. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface JsonNode {
  value: unknown;
  /** 1 for the document itself. */
  depth: number;
  /** Its key in its parent (an array index as a string); '' for the document. */
  key: string;
  parent: JsonNode | null;
}

/** The keys from the document down to the node. */
export function jsonPath(node: JsonNode): string[] {
  const path: string[] = [];
  for (let at: JsonNode | null = node; at?.parent; at = at.parent) path.unshift(at.key);
  return path;
}

/**
 * Visits every value depth-first. A visit that returns something stops the walk and the
 * walk returns it; children are visited only for objects and arrays within `maxDepth`
 * (deeper ones are still visited themselves, so the visit can refuse them).
 */
export function walkJson<T>(root: unknown, visit: (node: JsonNode) => T | undefined): T | undefined {
  const pending: JsonNode[] = [{ value: root, depth: 1, key: '', parent: null }];
  for (let node = pending.pop(); node; node = pending.pop()) {
    const found = visit(node);
    if (found !== undefined) return found;
    const { value } = node;
    if (typeof value !== 'object' || value === null) continue;
    const entries: [string, unknown][] = Array.isArray(value)
      ? value.map((item, i) => [String(i), item])
      : Object.entries(value);
    for (const [key, child] of entries)
      pending.push({ value: child, depth: node.depth + 1, key, parent: node });
  }
  return undefined;
}
