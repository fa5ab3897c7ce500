// Counters in fixed windows that every Kiln process on one database shares, for limits that must
// hold however many processes answer: `rate-limiter-flexible`'s RateLimiterPostgres on the pool of
// a real Postgres (one upsert a count, in the table `kiln_rate_limit`, which the library creates
// and sweeps), and its in-memory counter on the embedded database, which only one process opens.
import { RateLimiterMemory, RateLimiterPostgres, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from './database.js';
import { poolOf } from './postgres-database.js';

const TABLE = 'kiln_rate_limit';

export interface SharedLimit {
  /** Tells the counters apart in the one table; keys are stored as `keyPrefix:key`, at most 255 characters. */
  keyPrefix: string;
  /** Counts allowed in one window. */
  points: number;
  /** The window, in seconds. */
  duration: number;
}

export function sharedRateLimiter(db: Database, limit: SharedLimit): Promise<RateLimiterAbstract> {
  const pool = poolOf(db);
  if (!pool) return Promise.resolve(new RateLimiterMemory(limit));
  // The library takes the pool as it is (storeType 'pool': it runs pool.query); its callback says
  // when its table exists, before which every count would fail.
  return new Promise((resolve, reject) => {
    const limiter: RateLimiterPostgres = new RateLimiterPostgres({ ...limit, storeClient: pool, storeType: 'pool', tableName: TABLE }, (error?: Error) =>
      error ? reject(error) : resolve(limiter),
    );
  });
}
