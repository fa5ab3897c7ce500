// Requests per minute per IP address (before anything else is read) and per client application
// (after its token is verified), with `express-rate-limit`. Counts are kept per process.
import type { NextFunction, Request, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { FhirError, issue } from '../fhir/errors.js';
import type { Access } from '../fhir/context.js';

const WINDOW_MS = 60_000;

function tooMany(what: string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const retry = res.getHeader('Retry-After');
    next(new FhirError(429, [issue('throttled', `Too many requests from this ${what}; try again in ${retry ?? 60} seconds`)], retry ? { 'Retry-After': String(retry) } : {}));
  };
}

export function rateLimits(perMinute: number) {
  const off = (_req: Request, _res: Response, next: NextFunction) => next();
  if (perMinute === 0) return { byAddress: off, byClient: off };
  // draft-7 headers (RateLimit, RateLimit-Policy): draft-8 also hashes each key on every request.
  const common = { windowMs: WINDOW_MS, limit: perMinute, standardHeaders: 'draft-7' as const, legacyHeaders: false };
  return {
    byAddress: rateLimit({ ...common, handler: tooMany('address') }),
    byClient: rateLimit({
      ...common,
      keyGenerator: (_req, res) => `client:${(res.locals.access as Access | undefined)?.clientId ?? 'none'}`,
      handler: tooMany('client application'),
    }),
  };
}
