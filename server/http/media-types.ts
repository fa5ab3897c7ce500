// FHIR R4 §3.1.0.1.6 content types and encodings (hl7.org/fhir/R4/http.html#mime-type): Kiln
// reads and writes JSON; a request for any other format is refused, not misanswered.
import type { Request } from 'express';
import { notAcceptable, unsupportedMediaType } from '../fhir/errors.js';

export const FHIR_JSON = 'application/fhir+json';
export const JSON_PATCH = 'application/json-patch+json';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'fhir+json']);
const JSON_ACCEPTS = new Set(['application/fhir+json', 'application/json', 'application/json+fhir', 'application/*', '*/*']);

/** The media types the client asked for, in the Accept header's order of preference. */
function acceptedTypes(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((entry) => entry.type && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((entry) => entry.type);
}

/** Throws 406 unless the response can be FHIR JSON (by `_format`, else by Accept). */
/** Whether the request takes FHIR JSON (by `_format` or `Accept`). */
export function jsonAcceptable(req: Request): boolean {
  try {
    assertJsonAcceptable(req);
    return true;
  } catch {
    return false;
  }
}

export function assertJsonAcceptable(req: Request): void {
  const format = typeof req.query._format === 'string' ? req.query._format.trim().toLowerCase() : undefined;
  if (format !== undefined) {
    if (!JSON_FORMATS.has(format.split(';')[0].trim())) {
      throw notAcceptable(`_format "${format}" is not supported: Kiln answers in JSON (application/fhir+json)`);
    }
    return;
  }
  const accepted = acceptedTypes(req.get('accept'));
  if (accepted.length && !accepted.some((type) => JSON_ACCEPTS.has(type))) {
    throw notAcceptable(`Cannot produce ${req.get('accept')}: Kiln answers in JSON (application/fhir+json)`);
  }
}

/** Whether `Accept` takes `contentType` (exactly, by its `type/*`, or anything). */
export function acceptsContentType(req: Request, contentType: string): boolean {
  const accepted = acceptedTypes(req.get('accept'));
  const type = contentType.split(';')[0].trim().toLowerCase();
  return !accepted.length || accepted.some((a) => a === '*/*' || a === type || a === `${type.split('/')[0]}/*`);
}

/** True when the client asked for FHIR JSON explicitly rather than accepting anything. */
export function wantsFhirResource(req: Request): boolean {
  if (typeof req.query._format === 'string') return true;
  return acceptedTypes(req.get('accept')).some((type) => type !== '*/*' && type !== 'application/*' && JSON_ACCEPTS.has(type));
}

export function mediaTypeOf(req: Request): string | undefined {
  return req.get('content-type')?.split(';')[0].trim().toLowerCase();
}

export function assertFhirJsonBody(req: Request): void {
  const type = mediaTypeOf(req);
  if (type !== 'application/fhir+json' && type !== 'application/json' && type !== 'application/json+fhir') {
    throw unsupportedMediaType(`Content-Type ${type ?? '(none)'} is not supported: send application/fhir+json`);
  }
}

export function assertPatchBody(req: Request): void {
  const type = mediaTypeOf(req);
  if (type !== JSON_PATCH) {
    throw unsupportedMediaType(`PATCH needs Content-Type ${JSON_PATCH} (JSON Patch); got ${type ?? '(none)'}`);
  }
}
