// RFC 7662 §2.1 and §2.2: only the client that holds a token, authenticated as that client, or an
// administrator learns anything about it. Another authenticated client hears `{"active": false}`;
// a caller that is neither (a patient's or a practitioner's bearer token, no authentication at
// all) is refused with 401 invalid_client. The same for refresh tokens.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let kiln: TestServer & { origin: string };
/** A confidential app (client secret) a practitioner signed in to: its access and refresh token. */
let holder: { clientId: string; secret: string; tokens: { access_token: string; refresh_token?: string } };
/** Another confidential app with a secret. */
let other: { clientId: string; secret: string };
/** A public app a patient signed in to. */
let patientTokens: { access_token: string; refresh_token?: string };
let publicClientId: string;
let adminToken: string;
let practitionerToken: string;
/** A backend service (private_key_jwt) and its key. */
let service: { clientId: string; key: CryptoKey };

const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

async function introspect(token: string, auth: { authorization?: string; fields?: Record<string, string> } = {}) {
  const response = await fetch(`${kiln.origin}/auth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth.authorization ? { authorization: auth.authorization } : {}) },
    body: new URLSearchParams({ token, ...auth.fields }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function serviceAssertion(audience: string): Promise<Record<string, string>> {
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS384', kid: 'k1', typ: 'JWT' })
    .setIssuer(service.clientId)
    .setSubject(service.clientId)
    .setAudience(audience)
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + 120)
    .sign(service.key);
  return { client_assertion_type: ASSERTION_TYPE, client_assertion: assertion };
}

beforeAll(async () => {
  kiln = await startAuthServer();
  const practitioner = await newUser(kiln, 'practitioner', 'Practitioner/intro-doc');
  const patient = await newUser(kiln, 'patient', 'Patient/intro-pt');
  const admin = await newUser(kiln, 'admin');
  const confidential = await newClient(kiln, { kind: 'confidential-symmetric', scope: 'offline_access user/*.rs' });
  holder = {
    clientId: confidential.client.clientId,
    secret: confidential.secret as string,
    tokens: await signIn(kiln, { clientId: confidential.client.clientId, clientSecret: confidential.secret, scope: 'offline_access user/*.rs', username: practitioner.username }),
  };
  const second = await newClient(kiln, { kind: 'confidential-symmetric', scope: 'user/*.rs' });
  other = { clientId: second.client.clientId, secret: second.secret as string };
  const app = await newClient(kiln, { scope: 'launch/patient offline_access patient/*.rs user/*.cruds' });
  publicClientId = app.client.clientId;
  patientTokens = await signIn(kiln, { clientId: app.client.clientId, scope: 'launch/patient offline_access patient/*.rs', username: patient.username });
  practitionerToken = (await signIn(kiln, { clientId: app.client.clientId, scope: 'user/*.cruds', username: practitioner.username })).access_token;
  adminToken = (await signIn(kiln, { clientId: app.client.clientId, scope: 'user/*.cruds', username: admin.username })).access_token;
  const pair = await generateKeyPair('RS384', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS384' }] };
  const registered = await newClient(kiln, { kind: 'confidential-asymmetric', jwks, redirectUris: [], grantTypes: ['client_credentials'], scope: 'system/*.rs' });
  service = { clientId: registered.client.clientId, key: pair.privateKey };
});
afterAll(() => kiln.stop());

it("refuses a patient's bearer token with 401 invalid_client, for another user's token and for its own", async () => {
  for (const token of [holder.tokens.access_token, holder.tokens.refresh_token as string, patientTokens.access_token]) {
    const answer = await introspect(token, { authorization: `Bearer ${patientTokens.access_token}` });
    expect([answer.status, answer.body.error]).toEqual([401, 'invalid_client']);
    expect(answer.body.sub).toBeUndefined();
    expect(answer.body.scope).toBeUndefined();
    expect(answer.body.patient).toBeUndefined();
  }
});

it("refuses a practitioner's bearer token too: only an administrator's bearer token introspects", async () => {
  const answer = await introspect(holder.tokens.access_token, { authorization: `Bearer ${practitionerToken}` });
  expect([answer.status, answer.body.error]).toEqual([401, 'invalid_client']);
});

it('refuses a caller with no authentication, a wrong or malformed secret, or a public client naming itself, with 401 invalid_client', async () => {
  const anonymous = await introspect(holder.tokens.access_token);
  expect([anonymous.status, anonymous.body.error]).toEqual([401, 'invalid_client']);
  const wrongSecret = await introspect(holder.tokens.access_token, { authorization: basic(holder.clientId, 'not-the-secret') });
  expect([wrongSecret.status, wrongSecret.body.error]).toEqual([401, 'invalid_client']);
  const malformed = await introspect(holder.tokens.access_token, { authorization: basic('%zz', '%zz') });
  expect([malformed.status, malformed.body.error]).toEqual([401, 'invalid_client']);
  // A public client has nothing to authenticate with: naming itself proves nothing.
  const named = await introspect(patientTokens.access_token, { fields: { client_id: publicClientId } });
  expect([named.status, named.body.error]).toEqual([401, 'invalid_client']);
});

it("tells another authenticated client only {active: false} about a client's access and refresh tokens", async () => {
  for (const token of [holder.tokens.access_token, holder.tokens.refresh_token as string, patientTokens.access_token, patientTokens.refresh_token as string]) {
    const answer = await introspect(token, { authorization: basic(other.clientId, other.secret) });
    expect([answer.status, answer.body]).toEqual([200, { active: false }]);
  }
  const byService = await introspect(holder.tokens.access_token, { fields: await serviceAssertion(`${kiln.origin}/auth/introspect`) });
  expect([byService.status, byService.body]).toEqual([200, { active: false }]);
});

it('tells the client that holds the token everything about it, authenticated with its secret', async () => {
  const access = await introspect(holder.tokens.access_token, { authorization: basic(holder.clientId, holder.secret) });
  expect(access.status).toBe(200);
  expect(access.body).toMatchObject({ active: true, client_id: holder.clientId, scope: 'offline_access user/*.rs', fhirUser: `${kiln.fhirUrl}/Practitioner/intro-doc` });
  expect(typeof access.body.sub).toBe('string');
  const refresh = await introspect(holder.tokens.refresh_token as string, { authorization: basic(holder.clientId, holder.secret) });
  expect(refresh.body).toMatchObject({ active: true, client_id: holder.clientId, token_type: 'refresh_token' });
});

it('tells a backend service about its own token when it authenticates with a signed assertion', async () => {
  const issued = await fetch(`${kiln.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.rs', ...(await serviceAssertion(`${kiln.origin}/auth/token`)) }),
  });
  const { access_token } = (await issued.json()) as { access_token: string };
  const answer = await introspect(access_token, { fields: await serviceAssertion(`${kiln.origin}/auth/introspect`) });
  expect(answer.body).toMatchObject({ active: true, client_id: service.clientId, scope: 'system/Patient.rs' });
});

it("tells an administrator's bearer token about anyone's access and refresh tokens", async () => {
  const access = await introspect(patientTokens.access_token, { authorization: `Bearer ${adminToken}` });
  expect(access.body).toMatchObject({ active: true, patient: 'intro-pt', fhirUser: `${kiln.fhirUrl}/Patient/intro-pt` });
  const refresh = await introspect(holder.tokens.refresh_token as string, { authorization: `Bearer ${adminToken}` });
  expect(refresh.body).toMatchObject({ active: true, client_id: holder.clientId });
  const unknown = await introspect('nonsense', { authorization: `Bearer ${adminToken}` });
  expect([unknown.status, unknown.body]).toEqual([200, { active: false }]);
});
