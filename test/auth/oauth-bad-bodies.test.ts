// RFC 6749 §3.2 and §5.2 (and RFC 7009, RFC 7662, which use the same form bodies): the token,
// revocation and introspection endpoints take application/x-www-form-urlencoded. A JSON body, a
// body without Content-Type, a malformed or repeated parameter, or a body over the limit is an
// invalid_request: 400 with the RFC 6749 JSON error and Cache-Control: no-store, never a 500 and
// never a FHIR OperationOutcome.
import { gzipSync } from 'node:zlib';
import type { TestServer } from '../support/test-server.js';
import { startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };

beforeAll(async () => {
  kiln = await startAuthServer();
});
afterAll(() => kiln.stop());

const FORM = 'application/x-www-form-urlencoded';
const ENDPOINTS = ['/auth/token', '/auth/revoke', '/auth/introspect'];

// A Blob without a type: fetch then sends no Content-Type of its own.
const BAD_BODIES: [string, Record<string, string>, string | Blob][] = [
  ['a JSON body', { 'content-type': 'application/json' }, JSON.stringify({ grant_type: 'client_credentials', token: 'x' })],
  ['no Content-Type', {}, new Blob(['grant_type=client_credentials&token=x'])],
  ['a text/plain body', { 'content-type': 'text/plain' }, 'grant_type=client_credentials&token=x'],
  ['a malformed percent-encoding', { 'content-type': FORM }, 'grant_type=client_credentials&token=%E0%A4%A'],
  ['a repeated parameter', { 'content-type': FORM }, 'grant_type=client_credentials&token=a&token=b'],
  ['a charset other than UTF-8', { 'content-type': `${FORM}; charset=utf-16` }, 'grant_type=client_credentials&token=x'],
  ['a body that does not match its Content-Encoding', { 'content-type': FORM, 'content-encoding': 'gzip' }, 'grant_type=client_credentials&token=x'],
  ['an oversized body', { 'content-type': FORM }, `grant_type=client_credentials&token=${'a'.repeat(200_000)}`],
  ['an oversized body once unzipped', { 'content-type': FORM, 'content-encoding': 'gzip' }, new Blob([gzipSync(`grant_type=client_credentials&token=${'a'.repeat(2_000_000)}`)])],
];

describe.each(ENDPOINTS)('POST %s', (path) => {
  it.each(BAD_BODIES)('answers %s with 400 invalid_request as RFC 6749 JSON, not stored', async (_what, headers, body) => {
    const response = await fetch(`${kiln.origin}${path}`, { method: 'POST', headers, body });
    const text = await response.text();
    expect([response.status, response.headers.get('content-type')]).toEqual([400, 'application/json; charset=utf-8']);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const answer = JSON.parse(text) as Record<string, unknown>;
    expect(answer.error).toBe('invalid_request');
    expect(typeof answer.error_description).toBe('string');
    expect(answer.resourceType).toBeUndefined();
  });
});

it('still reads a well-formed form body (a revocation without a client is 401 invalid_client, not 400)', async () => {
  const response = await fetch(`${kiln.origin}/auth/revoke`, { method: 'POST', headers: { 'content-type': `${FORM}; charset=UTF-8` }, body: 'token=abc' });
  expect(response.status).toBe(401);
  expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
});
