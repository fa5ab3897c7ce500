// Requests per minute per IP address (before anything else is read) and per client application
// (after its token is verified), in fixed one-minute windows counted by `rate-limiter-flexible`.
// Every FHIR request passes through both. One process counts in memory (well under a microsecond);
// the workers of a Kiln started with KILN_WORKERS > 1 share one count in the primary process
// (server/auth/leased-counter.ts), so that the limit holds for the whole Kiln, not per worker.
import cluster from 'node:cluster';
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { FhirError, issue } from '../fhir/errors.js';
import { LeasedCounter } from './leased-counter.js';

const WINDOW_SECONDS = 60;
/** How long a worker waits for the primary's count before letting requests go on (see LeasedCounter). */
const PRIMARY_TIMEOUT_MS = 2000;

export interface RateLimits {
  /** Counts a request from this address: a 429 FhirError once the address is past its limit. */
  address(address: string): Promise<void>;
  /** Counts a request of this client application, the same way. */
  client(clientId: string): Promise<void>;
  /** The address limit as middleware, for the OAuth and admin endpoints. */
  byAddress(req: Request, res: Response, next: NextFunction): void;
}

/** In the primary process of a Kiln with workers, before they start: keeps the counts they share. */
export function keepSharedRequestCounts(): void {
  new RateLimiterClusterMaster();
}

/**
 * Points a worker takes from the shared count at a time: one in a hundredth of the limit, at most
 * 100, so that at most one hundredth of the limit per worker goes unused at a window's end while a
 * message to the primary is needed once in a hundred requests at most.
 */
const leaseBlock = (perMinute: number) => Math.min(100, Math.max(1, Math.floor(perMinute / 100)));

/** One count: the process's own, or in a worker, its leases of the count the primary keeps. */
function consumer(perMinute: number, what: string): (key: string) => Promise<unknown> {
  const options = { points: perMinute, duration: WINDOW_SECONDS, keyPrefix: what };
  if (!cluster.isWorker) {
    const memory = new RateLimiterMemory(options);
    return (key) => memory.consume(key);
  }
  const leased = new LeasedCounter(new RateLimiterCluster({ ...options, timeoutMs: PRIMARY_TIMEOUT_MS }), leaseBlock(perMinute));
  return (key) => leased.consume(key);
}

function counter(perMinute: number, what: string): (key: string) => Promise<void> {
  const consume = consumer(perMinute, what);
  return (key) =>
    consume(key).then(
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
