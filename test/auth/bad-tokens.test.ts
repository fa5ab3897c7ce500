// Every FHIR request needs a valid bearer token: a missing, expired, malformed, wrongly signed
// (alg none, a swapped key), wrong-audience or revoked one answers 401 with WWW-Authenticate;
// a valid token without the scope answers 403 with an OperationOutcome.
import { generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { loadKeyRing } from '../../server/auth/signing-keys.js';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let valid: { access_token: string; refresh_token?: string };
let clientId: string;

beforeAll(async () => {
  kiln = await startAuthServer();
  const user = await newUser(kiln, 'practitioner', 'Practitioner/p1');
  ({ client: { clientId } } = await newClient(kiln, { scope: 'user/Patient.rs user/Observation.rs offline_access' }));
  valid = await signIn(kiln, { clientId, scope: 'user/Patient.rs offline_access', username: user.username });
});
afterAll(() => kiln.stop());

const get = (authorization?: string) => {
  const req = request(kiln.server).get('/fhir/Patient');
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req;
};

/** A token signed with Kiln's own key: right signature, claims as given. */
async function ownKeyToken(claims: { aud?: string; exp?: number; typ?: string }): Promise<string> {
  const keys = await loadKeyRing(kiln.db);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: clientId, scope: 'user/Patient.rs', role: 'practitioner' })
    .setProtectedHeader({ alg: 'RS256', kid: keys.current.kid, typ: claims.typ ?? 'at+jwt' })
    .setIssuer(kiln.fhirUrl)
    .setAudience(claims.aud ?? kiln.fhirUrl)
    .setSubject('someone')
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - 120)
    .setExpirationTime(claims.exp ?? now + 60)
    .sign(keys.current.key);
}

it('serves a request with a valid token', async () => {
  expect((await get(`Bearer ${valid.access_token}`)).status).toBe(200);
});

describe('answers 401 with WWW-Authenticate and an OperationOutcome', () => {
  const cases: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['a Basic header', async () => 'Basic dXNlcjpwYXNz'],
    ['a malformed token', async () => 'Bearer not.a.jwt'],
    ['an expired token', async () => `Bearer ${await ownKeyToken({ exp: Math.floor(Date.now() / 1000) - 10 })}`],
    ['a token for another audience', async () => `Bearer ${await ownKeyToken({ aud: 'https://other.example.org/fhir' })}`],
    ['an id_token used as an access token', async () => `Bearer ${await ownKeyToken({ typ: 'JWT' })}`],
    [
      'an unsigned token (alg none)',
      async () => {
        const [, payload] = valid.access_token.split('.');
        return `Bearer ${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
      },
    ],
    [
      'a token signed with another key under Kiln\'s kid (key swap)',
      async () => {
        const header = JSON.parse(Buffer.from(valid.access_token.split('.')[0], 'base64url').toString()) as { kid: string };
        const payload = JSON.parse(Buffer.from(valid.access_token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
        const { privateKey } = await generateKeyPair('RS256');
        return `Bearer ${await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: header.kid, typ: 'at+jwt' }).sign(privateKey)}`;
      },
    ],
    [
      'a token whose payload was changed',
      async () => {
        const [header, payload, signature] = valid.access_token.split('.');
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
        claims.scope = 'user/*.cruds';
        return `Bearer ${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      },
    ],
  ];
  it.each(cases)('%s', async (_name, authorization) => {
    const res = await get(await authorization());
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="Kiln"/);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

it('answers 401 for a revoked token, and refuses its refresh token once revoked', async () => {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/p2');
  const tokens = await signIn(kiln, { clientId, scope: 'user/Patient.rs offline_access', username: user.username });
  expect((await get(`Bearer ${tokens.access_token}`)).status).toBe(200);
  const revoke = (token: string) =>
    fetch(`${kiln.origin}/auth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, client_id: clientId }) });
  expect((await revoke(tokens.access_token)).status).toBe(200);
  const res = await get(`Bearer ${tokens.access_token}`);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toContain('revoked');

  expect((await revoke(tokens.refresh_token as string)).status).toBe(200);
  const refresh = await fetch(`${kiln.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: clientId }),
  });
  expect(refresh.status).toBe(400);
  expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
});

it('answers 403 with an OperationOutcome for a valid token without the scope', async () => {
  const res = await request(kiln.server).get('/fhir/Observation').set('Authorization', `Bearer ${valid.access_token}`);
  expect(res.status).toBe(403);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].code).toBe('forbidden');
});

it('leaves the CapabilityStatement and discovery documents public', async () => {
  expect((await request(kiln.server).get('/fhir/metadata')).status).toBe(200);
  expect((await request(kiln.server).get('/fhir/.well-known/smart-configuration')).status).toBe(200);
});
