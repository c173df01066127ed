/**
 * How deep a value already parsed nests, for what the gateway did not parse from text itself (a
 * tool result the MCP SDK parsed, an upstream's tool definition): the same bound as
 * `lib/json-scan.ts` puts on texts, checked before anything that recurses (`JSON.stringify`,
 * canonical JSON, ajv) reads the value.
 */

/**
 * True when `value` nests arrays and objects more than `maxDepth` levels (`{}` and `[1]` are 1
 * level, `{"a":[1]}` 2; a string or number is 0). Iterative, and it stops at the first container
 * past the bound, so a value nested 50,000 levels costs `maxDepth` steps down one branch; a value
 * within the bound costs one visit per container and per member.
 *
 * This does NOT follow anything but own enumerable keys of objects and indices of arrays (what
 * `JSON.stringify` writes), nor detect cycles (a parsed value has none; a cycle counts as deep).
 */
export function nestsDeeper(value: unknown, maxDepth: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const values: object[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const current = values.pop()!;
    const depth = depths.pop()!;
    if (depth > maxDepth) return true;
    const children: unknown[] = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) {
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
