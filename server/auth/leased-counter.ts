// One request limit for all the worker processes of a Kiln, at the cost of a local count. The
// count of record is kept in one place (the primary process, with rate-limiter-flexible's
// RateLimiterClusterMaster); asking it for every request would cost a message there and back,
// about 40 µs, while the in-memory count costs under 1 µs. So a worker takes points in blocks (a
// lease, valid until the window ends) and counts them down itself. The limit still holds: the
// primary hands out no point twice. Points leased but not used when the window ends are lost, at
// most one block per worker and key; a refusal is remembered until the window ends, so a client
// over its limit costs no messages either.
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

interface Lease {
  left: number;
  /** When the window of the count of record ends (ms since the epoch). */
  until: number;
  refused: boolean;
}

/** Above this many keys, leases of ended windows are swept out. */
const SWEEP_AT = 10_000;
/** Requests go on for this long when the count of record does not answer, rather than all failing. */
const UNANSWERED_LEASE_MS = 1000;
const GO_ON = Promise.resolve();

export class LeasedCounter {
  private readonly leases = new Map<string, Lease>();
  private readonly renewals = new Map<string, Promise<void>>();

  /**
   * @param shared the count of record; its `points` is the limit
   * @param block points taken at a time: larger costs fewer messages and loses more at a window's end
   */
  constructor(
    private readonly shared: RateLimiterAbstract,
    private readonly block: number,
  ) {}

  /** Resolves when one more request of `key` is within the limit; rejects with a RateLimiterRes when it is not. */
  consume(key: string): Promise<void> {
    const lease = this.leases.get(key);
    const now = Date.now();
    if (lease && lease.until > now) {
      if (lease.left > 0) {
        lease.left -= 1;
        return GO_ON;
      }
      if (lease.refused) return Promise.reject(new RateLimiterRes(0, lease.until - now, this.shared.points + 1, false));
    }
    // One renewal at a time per key: requests that arrive meanwhile share its points.
    let renewal = this.renewals.get(key);
    if (!renewal) {
      renewal = this.renew(key).finally(() => this.renewals.delete(key));
      this.renewals.set(key, renewal);
    }
    return renewal.then(() => this.consume(key));
  }

  private async renew(key: string): Promise<void> {
    if (this.leases.size > SWEEP_AT) this.sweep();
    let granted: number;
    let windowMs: number;
    try {
      windowMs = (await this.shared.consume(key, this.block)).msBeforeNext;
      granted = this.block;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        this.leases.set(key, { left: this.block, until: Date.now() + UNANSWERED_LEASE_MS, refused: false });
        return;
      }
      // The count of record took the whole block; those of its points still within the limit are ours.
      granted = Math.max(0, Math.min(this.block, this.shared.points - (rejection.consumedPoints - this.block)));
      windowMs = rejection.msBeforeNext;
    }
    this.leases.set(key, { left: granted, until: Date.now() + Math.max(1, windowMs), refused: granted === 0 });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) if (lease.until <= now) this.leases.delete(key);
  }
}
