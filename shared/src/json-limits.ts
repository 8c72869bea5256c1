/**
 * Bounds on the shape of JSON a peer sends. JSON.parse accepts any nesting,
 * but JSON.stringify recurses: a value nested a few thousand levels deep
 * decodes and then overflows the stack when the relay re-encodes it to
 * forward it. No wire message needs more than a handful of levels.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `value` nests arrays/objects deeper than `maxDepth` (the top-level
 * object counts as depth 1). Iterative, so a hostile value cannot overflow
 * the stack here either; stops at the first branch that is too deep.
 */
export function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * A peer-supplied field for an error message, without calling anything the
 * peer controls: String() of `{"toString":1}` throws TypeError.
 */
export function describeField(value: unknown, maxLength = 32): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, maxLength));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
