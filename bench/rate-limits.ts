// `npm run bench:rate-limits`: what one request's rate-limit count costs, per count, over 100,000
// counts of 1,000 keys: rate-limiter-flexible's in-memory counter (one process), its cluster
// counter (a message to the primary process and back per count), and Kiln's leases of the
// cluster count (server/auth/leased-counter.ts), one count at a time and 64 at once. A benchmark,
// not a test: it prints figures and asserts nothing.
import cluster from 'node:cluster';
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory } from 'rate-limiter-flexible';
import { LeasedCounter } from '../server/auth/leased-counter.js';

const COUNTS = 100_000;
const KEYS = Array.from({ length: 1000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
// High enough that nothing is refused: what is measured is the counting.
const LIMIT = 1_000_000_000;

interface Counter {
  consume(key: string): Promise<unknown>;
}

async function measure(name: string, counter: Counter, inFlight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < COUNTS) await counter.consume(KEYS[next++ % KEYS.length]);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const microseconds = Number(process.hrtime.bigint() - started) / 1000 / COUNTS;
  process.stdout.write(`${name.padEnd(34)} ${String(inFlight).padStart(3)} at once  ${microseconds.toFixed(2).padStart(7)} µs per count\n`);
}

async function inWorker(): Promise<void> {
  const shared = new RateLimiterCluster({ points: LIMIT, duration: 60, keyPrefix: 'bench', timeoutMs: 10_000 });
  // The first count waits for the primary to set the counter up; that is not what is measured.
  await shared.consume('warm-up');
  const leased = new LeasedCounter(shared, 100);
  for (const inFlight of [1, 64]) {
    await measure('cluster (primary counts each)', shared, inFlight);
    await measure('leases of the cluster count', leased, inFlight);
  }
}

async function inPrimary(): Promise<void> {
  process.stdout.write(`${COUNTS} counts over ${KEYS.length} keys, Node ${process.version}\n`);
  const memory = new RateLimiterMemory({ points: LIMIT, duration: 60 });
  for (const inFlight of [1, 64]) await measure('in memory (one process)', memory, inFlight);
  new RateLimiterClusterMaster();
  const worker = cluster.fork();
  await new Promise((resolve) => worker.once('exit', resolve));
}

(cluster.isPrimary ? inPrimary() : inWorker()).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  },
);
