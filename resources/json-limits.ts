// FHIR R4 §2.6.2 JSON representation (hl7.org/fhir/R4/json.html) read within bounds: how deeply a
// document nests and how large a value is, measured without recursion, so that a hostile document
// is refused before any recursive walk (validation, FHIRPath, JSON.stringify) can overflow the stack.

/**
 * Most levels of arrays and objects Kiln reads. The deepest R4 resources in practice (nested
 * Questionnaire items, Bundles in Bundles) stay well under 50.
 */
export const MAX_JSON_DEPTH = 100;

/** How deeply JSON text nests, counted up to `limit + 1` (a scan that never recurses). */
export function textDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** How deeply a parsed value nests, counted up to `limit + 1`, walking with a stack of its own. */
export function valueDepth(value: unknown, limit = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    const level = depth + 1;
    if (level > deepest && (deepest = level) > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, level]);
    }
  }
  return deepest;
}

/**
 * About how many bytes `value` takes as JSON (string lengths in UTF-16 units) and how many levels,
 * each counted up to just past its limit: one walk that never recurses, however large or deep the
 * value is. Used to bound work before anything copies or serialises the value.
 */
export function measureJson(value: unknown, maxBytes: number, maxDepth = MAX_JSON_DEPTH): { bytes: number; depth: number } {
  let bytes = 0;
  let depth = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length && bytes <= maxBytes && depth <= maxDepth) {
    const [node, level] = stack.pop() as [unknown, number];
    if (typeof node === 'string') bytes += node.length + 2;
    else if (node === null || typeof node !== 'object') bytes += String(node).length;
    else {
      depth = Math.max(depth, level + 1);
      if (Array.isArray(node)) {
        bytes += 2 + node.length;
        for (const item of node) stack.push([item, level + 1]);
      } else {
        bytes += 2;
        for (const [key, child] of Object.entries(node)) {
          bytes += key.length + 4;
          stack.push([child, level + 1]);
        }
      }
    }
  }
  return { bytes, depth };
}
