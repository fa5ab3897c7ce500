// FHIR R4 §3.1.0.4.2 version-aware updates (hl7.org/fhir/R4/http.html#concurrency): If-Match.
import { badRequest, preconditionFailed } from './errors.js';

// RFC 7232 §2.3 entity-tag: an optional weak marker and an opaque quoted string.
const ENTITY_TAG = /^\s*(?:W\/)?"([\x21\x23-\x7E]*)"\s*$/;

/** The opaque value an If-Match header names (`W/"3"` → `3`); only a header that is no entity tag is malformed. */
export function parseIfMatch(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = ENTITY_TAG.exec(header);
  if (!match) throw badRequest(`Malformed If-Match "${header}": expected a version ETag such as W/"3"`);
  return match[1];
}

/** 412 unless `expected` names the current version; a tag that is no version of Kiln's matches nothing. */
export function assertVersionMatches(expected: string | undefined, actual: number | undefined, what: string): void {
  if (expected === undefined) return;
  if (actual === undefined || String(actual) !== expected) {
    throw preconditionFailed(`If-Match W/"${expected}" does not match the current version of ${what} (${actual === undefined ? 'none' : `W/"${actual}"`})`);
  }
}
