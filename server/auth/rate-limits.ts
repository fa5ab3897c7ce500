// Requests per minute per IP address (before anything else is read) and per client application
// (after its token is verified), counted per process in fixed one-minute windows by
// `rate-limiter-flexible`, whose in-memory counter costs well under a microsecond: every FHIR
// request passes through both.
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { FhirError, issue } from '../fhir/errors.js';

const WINDOW_SECONDS = 60;

export interface RateLimits {
  /** Counts a request from this address: a 429 FhirError once the address is past its limit. */
  address(address: string): Promise<void>;
  /** Counts a request of this client application, the same way. */
  client(clientId: string): Promise<void>;
  /** The address limit as middleware, for the OAuth and admin endpoints. */
  byAddress(req: Request, res: Response, next: NextFunction): void;
}

function counter(perMinute: number, what: string): (key: string) => Promise<void> {
  const limiter = new RateLimiterMemory({ points: perMinute, duration: WINDOW_SECONDS, keyPrefix: what });
  return (key) =>
    limiter.consume(key).then(
      () => undefined,
      (rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const retry = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new FhirError(429, [issue('throttled', `Too many requests from this ${what}; try again in ${retry} seconds`)], { 'Retry-After': String(retry) });
      },
    );
}

export function rateLimits(perMinute: number): RateLimits {
  if (perMinute === 0) {
    const none = () => Promise.resolve();
    return { address: none, client: none, byAddress: (_req, _res, next) => next() };
  }
  const address = counter(perMinute, 'address');
  return {
    address,
    client: counter(perMinute, 'client application'),
    byAddress: (req, _res, next) => void address(req.ip ?? '').then(() => next(), next),
  };
}
