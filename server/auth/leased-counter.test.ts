import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { LeasedCounter } from './leased-counter.js';

/** The count of record, as the primary process keeps it, with the number of times it was asked. */
function countOfRecord(points: number, duration = 60) {
  const limiter = new RateLimiterMemory({ points, duration });
  const asked = { times: 0 };
  const consume = limiter.consume.bind(limiter);
  limiter.consume = (key, pointsToConsume, options) => {
    asked.times += 1;
    return consume(key, pointsToConsume, options);
  };
  return { limiter, asked };
}

const outcome = (counting: Promise<void>) =>
  counting.then(
    () => 'ok' as const,
    (rejection: unknown) => rejection,
  );

it('lets workers together serve exactly the limit, not the limit each, when blocks do not divide it', async () => {
  const { limiter } = countOfRecord(100);
  const workers = [new LeasedCounter(limiter, 7), new LeasedCounter(limiter, 7), new LeasedCounter(limiter, 7)];
  let served = 0;
  // Requests land on the workers unevenly, some at the same time.
  for (let round = 0; round < 100; round++) {
    const answers = await Promise.all(workers.flatMap((worker, i) => Array.from({ length: i + 1 }, () => outcome(worker.consume('10.0.0.1')))));
    served += answers.filter((a) => a === 'ok').length;
  }
  expect(served).toBe(100);
  for (const worker of workers) {
    const refusal = await outcome(worker.consume('10.0.0.1'));
    expect(refusal).toBeInstanceOf(RateLimiterRes);
    expect((refusal as RateLimiterRes).msBeforeNext).toBeGreaterThan(0);
    expect((refusal as RateLimiterRes).msBeforeNext).toBeLessThanOrEqual(60_000);
  }
  expect(await outcome(workers[0].consume('10.0.0.2'))).toBe('ok');
});

it('asks the count of record once a block, and not at all for a key refused until its window ends', async () => {
  const { limiter, asked } = countOfRecord(1000);
  const worker = new LeasedCounter(limiter, 100);
  for (let i = 0; i < 1000; i++) expect(await outcome(worker.consume('app-1'))).toBe('ok');
  expect(asked.times).toBe(10);
  for (let i = 0; i < 50; i++) expect(await outcome(worker.consume('app-1'))).toBeInstanceOf(RateLimiterRes);
  expect(asked.times).toBe(11);
});

it('serves a key again once the window of its count of record has ended', async () => {
  const { limiter } = countOfRecord(3, 1);
  const worker = new LeasedCounter(limiter, 2);
  const first = [];
  for (let i = 0; i < 4; i++) first.push(await outcome(worker.consume('app-1')));
  expect(first.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
  expect(first[3]).toBeInstanceOf(RateLimiterRes);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  expect(await outcome(worker.consume('app-1'))).toBe('ok');
});
