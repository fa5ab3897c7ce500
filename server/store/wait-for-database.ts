// A process that starts while its database is down (restarting, not up yet in a compose file,
// failing over) waits for it rather than exiting: it tries again with pauses that double up to ten
// seconds, says so in one line per attempt, and gives up after KILN_DATABASE_WAIT_SECONDS.
import { DatabaseUnavailable, isUnavailable, unavailableReason } from './unavailable.js';

const FIRST_PAUSE_MS = 500;
const LONGEST_PAUSE_MS = 10_000;

export interface WaitLog {
  warn(message: string): void;
}

/** `connect()` until it succeeds; a failure other than the database's absence is thrown at once. */
export async function untilAvailable<T>(connect: () => Promise<T>, waitSeconds: number, log?: WaitLog): Promise<T> {
  const deadline = Date.now() + waitSeconds * 1000;
  let pause = FIRST_PAUSE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new DatabaseUnavailable(`the database did not answer within ${waitSeconds} s (KILN_DATABASE_WAIT_SECONDS): ${unavailableReason(error)}`, { cause: error });
      }
      const wait = Math.min(pause, left);
      log?.warn(`waiting for the database (attempt ${attempt}: ${unavailableReason(error)}); trying again in ${(wait / 1000).toFixed(1)} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }
  }
}
