// FHIR R4 Binary (hl7.org/fhir/R4/binary.html#rest): raw content in and out, the Binary
// resource when the client asks for FHIR JSON.
import type { Binary } from '@medplum/fhirtypes';
import type { Request, Response } from 'express';
import type { StoredResource } from '../fhir/interactions/read.js';
import { notAcceptable } from '../fhir/errors.js';
import { acceptsContentType, jsonAcceptable, mediaTypeOf, wantsFhirResource } from './media-types.js';
import { resourceBody } from './request-body.js';

const FHIR_TYPES = new Set(['application/fhir+json', 'application/json', 'application/json+fhir']);

/** A Binary from the body: a Binary resource in FHIR JSON, or any other content taken as it is. */
export function binaryBody(req: Request): Binary {
  const type = mediaTypeOf(req);
  if (type && FHIR_TYPES.has(type)) return resourceBody(req, 'Binary') as Binary;
  const data = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const binary: Binary = { resourceType: 'Binary', contentType: req.get('content-type') ?? 'application/octet-stream', data: data.toString('base64') };
  const securityContext = req.get('x-security-context');
  if (securityContext) binary.securityContext = { reference: securityContext };
  return binary;
}

/**
 * Sends the raw bytes of a Binary unless FHIR JSON was asked for; true when it did. `Accept` may
 * name the Binary's own content type (R4 binary.html#rest); one that takes neither that nor JSON is 406.
 */
export function sendRawBinary(req: Request, res: Response, stored: StoredResource): boolean {
  if (wantsFhirResource(req)) return false;
  const binary = JSON.parse(stored.content) as Binary;
  if (!acceptsContentType(req, binary.contentType ?? 'application/octet-stream')) {
    // Not its own type: as a Binary resource in JSON if Accept takes that, else nothing.
    if (jsonAcceptable(req)) return false;
    throw notAcceptable(`Cannot produce ${req.get('accept')}: this Binary is ${binary.contentType}, and Kiln also answers in JSON (application/fhir+json)`);
  }
  res.status(200).type(binary.contentType).send(Buffer.from(binary.data ?? '', 'base64'));
  return true;
}
