// SMART App Launch 2.x scopes name FHIR resource types: a scope whose type FHIR R4 does not have
// (`system/UnknownType.read`, `system/Foo.rs`, `patient/Observations.rs`) is refused with
// invalid_scope where an app asks for it (authorize, client_credentials), and an administrator
// cannot register an app with one. `*` stays valid.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import type { TestServer } from '../support/test-server.js';
import { authorizationCode, newClient, newUser, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let practitionerName: string;
let adminToken: string;
let service: { clientId: string; key: CryptoKey };

beforeAll(async () => {
  kiln = await startAuthServer();
  practitionerName = (await newUser(kiln, 'practitioner', 'Practitioner/scope-doc')).username;
  const admin = await newUser(kiln, 'admin');
  const { client } = await newClient(kiln, { scope: 'user/*.cruds' });
  adminToken = (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username: admin.username })).access_token;
  const pair = await generateKeyPair('RS384', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS384' }] };
  const registered = await newClient(kiln, { kind: 'confidential-asymmetric', jwks, redirectUris: [], grantTypes: ['client_credentials'], scope: 'system/*.rs' });
  service = { clientId: registered.client.clientId, key: pair.privateKey };
});
afterAll(() => kiln.stop());

async function clientCredentials(scope: string) {
  const tokenUrl = `${kiln.origin}/auth/token`;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS384', kid: 'k1', typ: 'JWT' })
    .setIssuer(service.clientId)
    .setSubject(service.clientId)
    .setAudience(tokenUrl)
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + 120)
    .sign(service.key);
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

it('refuses a client_credentials request for a type that does not exist with invalid_scope, though the client has system/*.rs', async () => {
  for (const scope of ['system/UnknownType.read', 'system/Foo.rs', 'system/Patient.rs system/Observations.rs']) {
    const answer = await clientCredentials(scope);
    expect([scope, answer.status, answer.body.error, answer.body.access_token]).toEqual([scope, 400, 'invalid_scope', undefined]);
  }
  const wildcard = await clientCredentials('system/*.rs');
  expect([wildcard.status, wildcard.body.scope]).toEqual([200, 'system/*.rs']);
});

it('sends invalid_scope back from the authorize endpoint for a type that does not exist, though the client has user/*.cruds', async () => {
  const { client } = await newClient(kiln, { scope: 'launch/patient patient/*.rs user/*.cruds' });
  for (const scope of ['patient/Observations.rs launch/patient', 'user/Foo.rs', 'user/UnknownType.read']) {
    const result = await authorizationCode(kiln, { clientId: client.clientId, scope, username: practitionerName });
    expect([scope, result.redirect?.searchParams.get('error'), result.redirect?.searchParams.get('code')]).toEqual([scope, 'invalid_scope', null]);
  }
  const wildcard = await authorizationCode(kiln, { clientId: client.clientId, scope: 'user/*.rs', username: practitionerName });
  expect(wildcard.redirect?.searchParams.get('code')).toBeTruthy();
});

it('refuses to register an app with a scope naming a type that does not exist (400), and registers one with *', async () => {
  const register = (scope: string) =>
    request(kiln.server)
      .post('/admin/clients')
      .set('Authorization', `Bearer ${adminToken}`)
      .send({ name: 'Backend', kind: 'confidential-asymmetric', scope, grantTypes: ['client_credentials'], jwksUri: 'https://example.org/jwks.json' });
  for (const scope of ['system/Foo.rs', 'system/*.rs system/UnknownType.read']) {
    const refused = await register(scope);
    expect([scope, refused.status, refused.body.resourceType]).toEqual([scope, 400, 'OperationOutcome']);
    expect(JSON.stringify(refused.body)).toContain(scope.split(' ').pop());
  }
  expect((await register('system/*.rs')).status).toBe(201);
});
