// Turns every failure into an OperationOutcome with the right status: FHIR errors as raised,
// body-parser errors by their status, anything unexpected as a 500 that reveals nothing inside.
import type { NextFunction, Request, Response } from 'express';
import { FhirError, issue } from '../fhir/errors.js';
import { sqlStateOf, SqlState } from '../store/database.js';
import { FHIR_JSON } from './media-types.js';

interface HttpError {
  status?: number;
  type?: string;
  limit?: number;
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const failure = toFhirError(err, req);
  // A failure before the request logger ran has no request log; it must still be answered.
  if (failure.status >= 500) (req.log as typeof req.log | undefined)?.error({ err }, 'request failed');
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(failure.headers)) res.setHeader(name, value);
  res.status(failure.status).type(`${FHIR_JSON}; charset=utf-8`).send(JSON.stringify(failure.toOperationOutcome()));
}

function toFhirError(err: unknown, req: Request): FhirError {
  if (err instanceof FhirError) return err;
  const http = err as HttpError;
  if (http?.type === 'entity.too.large') {
    return new FhirError(413, [issue('too-costly', `The request body is larger than the limit of ${http.limit} bytes`)]);
  }
  if (http?.type === 'encoding.unsupported' || http?.type === 'charset.unsupported') {
    return new FhirError(415, [issue('not-supported', 'The request body encoding or charset is not supported')]);
  }
  if (typeof http?.status === 'number' && http.status >= 400 && http.status < 500) {
    return new FhirError(http.status, [issue('invalid', `The request could not be read (${http.type ?? 'bad request'})`)]);
  }
  if (sqlStateOf(err) === SqlState.queryCanceled) {
    return new FhirError(503, [issue('transient', 'The database took too long to answer; try again or narrow the request')]);
  }
  const id = req.id ?? '';
  return new FhirError(500, [issue('exception', `Internal error${id ? ` (request ${id})` : ''}; it has been logged`)]);
}

