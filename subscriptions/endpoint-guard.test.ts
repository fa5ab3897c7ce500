// Where notifications may go: https on public addresses, unless the host is listed; a name that
// resolves inward is refused when the connection is made.
import { EndpointGuard, isInternalAddress } from './endpoint-guard.js';

it.each([
  ['127.0.0.1', true],
  ['10.20.30.40', true],
  ['172.16.0.1', true],
  ['192.168.1.1', true],
  ['169.254.169.254', true],
  ['100.64.0.1', true],
  ['0.0.0.0', true],
  ['::1', true],
  ['fe80::1', true],
  ['fd12:3456::1', true],
  ['::ffff:10.0.0.1', true],
  ['8.8.8.8', false],
  ['2001:4860:4860::8888', false],
  ['example.org', false],
])('judges %s internal: %s', (address, internal) => {
  expect(isInternalAddress(address)).toBe(internal);
});

it('refuses http, internal addresses and credentials in the URL unless the host is listed', () => {
  const guard = new EndpointGuard('hooks.internal, 127.0.0.1:9000');
  expect(guard.refusal('https://example.org/hook')).toBeUndefined();
  expect(guard.refusal('http://example.org/hook')).toMatch(/https/);
  expect(guard.refusal('https://10.0.0.5/hook')).toMatch(/private/);
  expect(guard.refusal('https://[::1]/hook')).toMatch(/private/);
  expect(guard.refusal('https://localhost/hook')).toMatch(/private/);
  expect(guard.refusal('https://user:pw@example.org/hook')).toMatch(/password/);
  expect(guard.refusal('ftp://example.org/hook')).toMatch(/https/);
  expect(guard.refusal('not a url')).toMatch(/absolute/);
  expect(guard.refusal('http://hooks.internal/hook')).toBeUndefined();
  expect(guard.refusal('http://127.0.0.1:9000/hook')).toBeUndefined();
  expect(guard.refusal('http://127.0.0.1:9001/hook')).toMatch(/https/);
});

const resolve = (guard: EndpointGuard, url: string) =>
  new Promise<{ error?: NodeJS.ErrnoException; address?: string }>((done) =>
    guard.lookupFor(new URL(url))(new URL(url).hostname, { family: 0 }, (error, address) => done({ error: error ?? undefined, address: address as string })),
  );

it('refuses, when connecting, a name that resolves to a loopback address unless the host is listed', async () => {
  const refused = await resolve(new EndpointGuard(undefined), 'https://localhost/hook');
  expect(refused.error?.code).toBe('KILN_ENDPOINT_REFUSED');
  expect(refused.error?.message).toMatch(/KILN_SUBSCRIPTION_ALLOW_HTTP/);
  const allowed = await resolve(new EndpointGuard('localhost'), 'https://localhost/hook');
  expect(allowed.error).toBeUndefined();
  expect(isInternalAddress(allowed.address as string)).toBe(true);
});
