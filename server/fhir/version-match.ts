// FHIR R4 §3.1.0.4.2 version-aware updates (hl7.org/fhir/R4/http.html#concurrency): If-Match.
import { badRequest, preconditionFailed } from './errors.js';

/** The version an If-Match header names: `W/"3"` (or `"3"`); anything else is malformed. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"([1-9][0-9]{0,8})"\s*$/.exec(header);
  if (!match) throw badRequest(`Malformed If-Match "${header}": expected a version ETag such as W/"3"`);
  return Number(match[1]);
}

export function assertVersionMatches(expected: number | undefined, actual: number | undefined, what: string): void {
  if (expected === undefined) return;
  if (actual !== expected) {
    throw preconditionFailed(`If-Match W/"${expected}" does not match the current version of ${what} (${actual === undefined ? 'none' : `W/"${actual}"`})`);
  }
}
