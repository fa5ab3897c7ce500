// FHIR R4 §2.6.2 JSON representation (hl7.org/fhir/R4/json.html): JSON text a client sent, read
// within Kiln's nesting limit, with a precise 400 for each way it can be wrong.
import { MAX_JSON_DEPTH, textDepth } from '../../resources/json-limits.js';
import { badRequest } from './errors.js';

/** `what` names the text in messages ("The body", "The JSON Patch in Binary.data"). */
export function parseJson(text: string, what: string): unknown {
  // Checked before parsing, so that nothing deeper is ever walked by a recursive function.
  if (textDepth(text) > MAX_JSON_DEPTH) throw badRequest(`${what} is JSON nested more than ${MAX_JSON_DEPTH} levels deep; Kiln reads at most ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}
