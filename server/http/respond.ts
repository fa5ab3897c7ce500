// Writing FHIR responses: JSON body (pretty or subsetted on request), ETag, Last-Modified,
// Location, and the Prefer header's choice of body (hl7.org/fhir/R4/http.html#ops).
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { Request, Response } from 'express';
import type { ReturnPreference } from '../fhir/context.js';
import { badRequest, informational } from '../fhir/errors.js';
import { FHIR_JSON } from './media-types.js';
import { applySubset, parseSubset } from '../fhir/subsetting.js';

export const etag = (versionId: number) => `W/"${versionId}"`;

function isPretty(req: Request): boolean {
  const pretty = req.query._pretty;
  if (pretty === undefined) return false;
  if (pretty === 'true') return true;
  if (pretty === 'false') return false;
  throw badRequest(`_pretty must be true or false, not "${String(pretty)}"`);
}

/** Sends JSON text; it is re-serialised only when the client asked for a subset or pretty output. */
export function sendJson(req: Request, res: Response, status: number, text: string, subsettable = false): void {
  const subset = subsettable ? parseSubset(req.query as Record<string, unknown>) : undefined;
  const pretty = isPretty(req);
  let body = text;
  if (subset || pretty) {
    let value = JSON.parse(text) as Record<string, unknown>;
    if (subset) value = applySubset(value, subset);
    body = JSON.stringify(value, null, pretty ? 2 : undefined);
  }
  res.status(status).type(`${FHIR_JSON}; charset=utf-8`).send(body);
}

export function sendResource(req: Request, res: Response, status: number, resource: unknown): void {
  sendJson(req, res, status, JSON.stringify(resource));
}


/** `Prefer: return=…` (hl7.org/fhir/R4/http.html#ops); representation when absent. */
export function returnPreference(req: Request): ReturnPreference {
  const prefer = req.get('prefer');
  const match = prefer ? /(?:^|[,;\s])return\s*=\s*"?([A-Za-z]+)"?/.exec(prefer) : null;
  if (!match) return 'representation';
  const value = match[1];
  if (value === 'minimal' || value === 'representation' || value === 'OperationOutcome') return value;
  throw badRequest(`Prefer: return=${value} is not one of minimal, representation, OperationOutcome`);
}

export interface WrittenVersion {
  versionId: number;
  lastUpdated: Date;
  location?: string;
}

export function setVersionHeaders(res: Response, version: WrittenVersion): void {
  res.setHeader('ETag', etag(version.versionId));
  res.setHeader('Last-Modified', version.lastUpdated.toUTCString());
  if (version.location) res.setHeader('Location', version.location);
}

/** Body of a successful write as the Prefer header asks. */
export function sendWriteBody(req: Request, res: Response, status: number, content: string, message: string): void {
  const preference = returnPreference(req);
  if (preference === 'minimal') {
    res.status(status).end();
    return;
  }
  if (preference === 'OperationOutcome') {
    sendOutcome(req, res, status, informational(message));
    return;
  }
  sendJson(req, res, status, content);
}

export function sendOutcome(req: Request, res: Response, status: number, outcome: OperationOutcome): void {
  sendResource(req, res, status, outcome);
}
