// FHIR R4 §3.1.0.5 patch with JSON Patch (hl7.org/fhir/R4/http.html#patch, RFC 6902), applied
// within bounds. A patch document is small, but its operations can make the document grow without
// limit: each `copy` can double it, and a `move` onto a large value clones that value. So the
// number of operations is capped, the bytes the operations copy or clone are counted as they go,
// the nesting the operations build is tracked, and the result must fit what a body may hold.
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { MAX_JSON_DEPTH, measureJson } from '../../resources/json-limits.js';
import { badRequest, tooLarge, unprocessable } from './errors.js';

const { applyOperation, getValueByPointer, JsonPatchError, validate } = fastJsonPatch;

export interface PatchLimits {
  /** KILN_MAX_PATCH_OPERATIONS. */
  maxOperations: number;
  /** KILN_MAX_BODY: the largest result, and the most bytes the operations may copy in all. */
  maxBytes: number;
}

// Segments that reach into the JavaScript object model rather than the resource.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

const segments = (pointer: string): string[] => (pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')));

/** The body as JSON Patch operations, checked before any is applied: 400 or 413 naming the first problem. */
export function patchOperations(body: unknown, limits: PatchLimits): Operation[] {
  if (!Array.isArray(body)) throw badRequest('A JSON Patch document is an array of operations');
  if (body.length > limits.maxOperations) {
    throw tooLarge(`The JSON Patch has ${body.length} operations; this server applies at most ${limits.maxOperations} (KILN_MAX_PATCH_OPERATIONS)`);
  }
  const problem = validate(body as Operation[]);
  if (problem) throw badRequest(`Invalid JSON Patch operation ${Number(problem.index ?? 0) + 1}: ${problem.message.split('\n')[0]}`);
  body.forEach((op: Operation, index) => {
    for (const pointer of [op.path, 'from' in op ? op.from : undefined]) {
      const forbidden = pointer === undefined ? undefined : segments(pointer).find((s) => FORBIDDEN_SEGMENTS.has(s));
      if (forbidden) throw badRequest(`Invalid JSON Patch operation ${index + 1}: the path ${JSON.stringify(pointer)} names "${forbidden}", which is no element of a FHIR resource`);
    }
  });
  return body as Operation[];
}

function cannotApply(index: number, op: Operation, text: string): never {
  const where = `operation ${index + 1} (${op.op} ${'from' in op ? `${op.from} → ` : ''}${op.path})`;
  throw unprocessable(`JSON Patch cannot be applied: ${where}: ${text}`);
}

/** Applies `ops` to `document` (changing it); 422 for an operation that cannot apply, 413 past a limit. */
export function applyBoundedPatch(document: unknown, ops: Operation[], limits: PatchLimits): unknown {
  let result: unknown = document;
  // The deepest the document has been: it only grows by what an operation puts deeper.
  let depth = measureJson(result, Infinity, Infinity).depth;
  let copied = 0;
  ops.forEach((op, index) => {
    // An operation on the whole document (path "") may have made it something other than a resource.
    if (result === null || typeof result !== 'object' || Array.isArray(result)) cannotApply(index, op, 'an earlier operation left a document that is not a JSON object');
    if ((op.op === 'copy' || op.op === 'move') && valueAt(result, op.from) === undefined) cannotApply(index, op, `"from" names no value`);
    const at = segments(op.path).length;
    if (op.op === 'move' && (op.path === op.from || op.path.startsWith(`${op.from}/`))) {
      if (op.path !== op.from) cannotApply(index, op, 'a value cannot be moved into itself');
    }
    // What the operation clones: the value copied, or the value a move overwrites.
    const cloned = op.op === 'copy' ? valueAt(result, op.from) : op.op === 'move' ? valueAt(result, op.path) : undefined;
    if (cloned !== undefined) {
      const measured = measureJson(cloned, limits.maxBytes - copied);
      copied += measured.bytes;
      if (copied > limits.maxBytes) {
        throw tooLarge(`The JSON Patch copies more than ${limits.maxBytes} bytes in all (at operation ${index + 1}); this server allows at most the largest body (KILN_MAX_BODY)`);
      }
      if (op.op === 'copy') depth = Math.max(depth, at + measured.depth);
    }
    if (op.op === 'add' || op.op === 'replace') depth = Math.max(depth, at + measureJson(op.value, Infinity).depth);
    if (op.op === 'move') depth = Math.max(depth, depth + at - segments(op.from).length);
    if (depth > MAX_JSON_DEPTH) cannotApply(index, op, `the resource would be nested more than ${MAX_JSON_DEPTH} levels deep; Kiln reads at most ${MAX_JSON_DEPTH} levels`);
    try {
      result = applyOperation(result, op, true, true, true, index).newDocument;
    } catch (error) {
      // The library reports a path that does not fit the document as a JsonPatchError, and some
      // (an index into a string, say) as the TypeError the step itself raised.
      if (!(error instanceof JsonPatchError) && !(error instanceof TypeError)) throw error;
      if (error.name === 'TEST_OPERATION_FAILED') throw unprocessable(`JSON Patch test failed at operation ${index + 1} (${op.path})`);
      cannotApply(index, op, error.message.split('\n')[0]);
    }
  });
  return result;
}

/** The value at a JSON pointer, or undefined when there is none. */
function valueAt(document: unknown, pointer: string): unknown {
  try {
    return getValueByPointer(document, pointer);
  } catch {
    return undefined;
  }
}

/** 413 when the patched resource is larger than a body may be (its depth is bounded already). */
export function assertPatchedSize(resource: unknown, limits: PatchLimits): void {
  const bytes = Buffer.byteLength(JSON.stringify(resource), 'utf8');
  if (bytes > limits.maxBytes) {
    throw tooLarge(`The patched resource would be ${bytes} bytes; this server stores at most ${limits.maxBytes} (KILN_MAX_BODY)`);
  }
}
