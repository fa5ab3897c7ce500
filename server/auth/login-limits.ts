// Brute-force protection of password checks, apart from and far below the request limits: sign-in
// attempts per account and per address in one-minute windows, counted where every Kiln process
// sees them (server/store/shared-rate-limiter.ts). An attempt over either limit is refused before
// its password is checked. Unknown usernames are counted like known ones, so that the limit tells
// nothing about which exist; the lock after wrong passwords (server/auth/users.ts) comes on top.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Database } from '../store/database.js';
import { sharedRateLimiter } from '../store/shared-rate-limiter.js';
import { sha256 } from './secrets.js';

const WINDOW_SECONDS = 60;

export interface LoginAttempts {
  /** Counts an attempt to sign in as `username` from `address`: undefined when it may go on, else the seconds to wait. */
  count(username: string, address: string): Promise<number | undefined>;
}

export interface LoginAttemptLimits {
  perAccount: number;
  perAddress: number;
}

export async function loginAttempts(db: Database, limits: LoginAttemptLimits): Promise<LoginAttempts> {
  const counter = async (points: number, keyPrefix: string) => (points > 0 ? sharedRateLimiter(db, { keyPrefix, points, duration: WINDOW_SECONDS }) : undefined);
  const byAddress = await counter(limits.perAddress, 'login-address');
  const byAccount = await counter(limits.perAccount, 'login-account');
  return {
    async count(username, address) {
      // The address first: an address over its limit spends none of an account's attempts.
      // Usernames are counted by hash: any text may be typed there, a password by mistake too.
      return (await wait(byAddress, address)) ?? (await wait(byAccount, sha256(username)));
    },
  };
}

async function wait(limiter: RateLimiterAbstract | undefined, key: string): Promise<number | undefined> {
  if (!limiter) return undefined;
  try {
    await limiter.consume(key);
    return undefined;
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
  }
}
