import { FhirError } from '../fhir/errors.js';
import { rateLimits } from './rate-limits.js';

async function outcome(counting: Promise<void>): Promise<FhirError | 'ok'> {
  return counting.then(
    () => 'ok' as const,
    (error: unknown) => error as FhirError,
  );
}

it('refuses a client application past its requests per minute with 429 and Retry-After, and no other client', async () => {
  const limits = rateLimits(3);
  const first = [];
  for (let i = 0; i < 4; i++) first.push(await outcome(limits.client('app-1')));
  expect(first.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
  const refused = first[3] as FhirError;
  expect(refused).toBeInstanceOf(FhirError);
  expect(refused.status).toBe(429);
  expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(60);
  expect(refused.message).toMatch(/client application/);
  expect(await outcome(limits.client('app-2'))).toBe('ok');
  // Addresses are counted apart from client applications.
  expect(await outcome(limits.address('app-1'))).toBe('ok');
});

it('counts nothing when the limit is 0', async () => {
  const limits = rateLimits(0);
  for (let i = 0; i < 100; i++) expect(await outcome(limits.address('10.0.0.1'))).toBe('ok');
});
