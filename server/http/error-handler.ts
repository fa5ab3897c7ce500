// Turns every failure into an OperationOutcome with the right status: FHIR errors as raised,
// body-parser errors by their status, a database that cannot be reached or took too long as a 503
// to retry, anything unexpected as a 500 that reveals nothing inside.
import type { NextFunction, Request, Response } from 'express';
import { FhirError, issue } from '../fhir/errors.js';
import { sqlStateOf, SqlState } from '../store/database.js';
import { isUnavailable, unavailableReason } from '../store/unavailable.js';
import { FHIR_JSON } from './media-types.js';

/**
 * How long a client is asked to wait when the database cannot be reached: long enough for a
 * restart or a fail-over to be under way, short enough that a client is not kept waiting after it.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

interface HttpError {
  status?: number;
  type?: string;
  limit?: number;
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const failure = toFhirError(err, req);
  // A failure before the request logger ran has no request log; it must still be answered.
  const log = req.log as typeof req.log | undefined;
  // An outage fails every request alike: one short line each, not a stack trace each.
  if (isUnavailable(err)) log?.warn({ reason: unavailableReason(err) }, 'database unavailable');
  else if (failure.status >= 500) log?.error({ err }, 'request failed');
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
  if (isUnavailable(err)) {
    return new FhirError(503, [issue('transient', 'The database cannot be reached at the moment; try again shortly')], {
      'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS),
    });
  }
  const id = req.id ?? '';
  return new FhirError(500, [issue('exception', `Internal error${id ? ` (request ${id})` : ''}; it has been logged`)]);
}

