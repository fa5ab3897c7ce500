// Reads a FHIR JSON request body into a resource, with a precise 400 for each way it can be wrong.
import type { Resource } from '@medplum/fhirtypes';
import type { Request } from 'express';
import { isResourceType } from '../../resources/definitions.js';
import { badRequest } from '../fhir/errors.js';
import { parseJson } from '../fhir/json-text.js';

export function jsonBody(req: Request): unknown {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw badRequest('The request has no body: send a FHIR resource as JSON');
  return parseJson(raw.toString('utf8'), 'The body');
}

/** The body as a resource of `expectedType` (the type in the URL). */
export function resourceBody(req: Request, expectedType: string): Resource {
  const body = jsonBody(req);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object: a FHIR resource');
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string') throw badRequest('The resource has no resourceType', 'resourceType');
  if (resourceType !== expectedType) {
    const known = isResourceType(resourceType) ? '' : ' (and it is not an R4 resource type)';
    throw badRequest(`The resourceType "${resourceType}" does not match the URL, which is for ${expectedType}${known}`, 'resourceType');
  }
  return body as Resource;
}
