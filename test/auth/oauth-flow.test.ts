// SMART App Launch 2.x authorization code flow: discovery, the authorize checks (PKCE S256, state,
// aud, registered redirect URIs, scopes), sign-in with brute-force protection, consent, EHR launch
// context, tokens (id_token, refresh rotation), introspection and revocation.
import { createLocalJWKSet, jwtVerify } from 'jose';
import request from 'supertest';
import type { TestServer } from '../support/test-server.js';
import { authorizationCode, formFields, newClient, newUser, PASSWORD, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let clientId: string;
let practitioner: Awaited<ReturnType<typeof newUser>>;
let admin: Awaited<ReturnType<typeof newUser>>;
const SCOPES = 'openid fhirUser launch launch/patient offline_access online_access patient/*.rs user/*.cruds';

beforeAll(async () => {
  kiln = await startAuthServer({ KILN_LOGIN_MAX_FAILURES: '3' });
  ({ client: { clientId } } = await newClient(kiln, { scope: SCOPES }));
  practitioner = await newUser(kiln, 'practitioner', 'Practitioner/doc-1');
  admin = await newUser(kiln, 'admin');
});
afterAll(() => kiln.stop());

describe('discovery', () => {
  it('serves smart-configuration at the FHIR base and the root, with what SMART 2.x requires', async () => {
    for (const path of ['/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration']) {
      const res = await request(kiln.server).get(path);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        issuer: kiln.fhirUrl,
        authorization_endpoint: `${kiln.origin}/auth/authorize`,
        token_endpoint: `${kiln.origin}/auth/token`,
        jwks_uri: `${kiln.origin}/auth/jwks.json`,
        grant_types_supported: expect.arrayContaining(['authorization_code', 'client_credentials']),
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: expect.arrayContaining(['private_key_jwt', 'client_secret_basic']),
      });
      expect(res.body.capabilities).toEqual(
        expect.arrayContaining(['launch-ehr', 'launch-standalone', 'client-public', 'client-confidential-symmetric', 'client-confidential-asymmetric', 'context-ehr-patient', 'context-standalone-patient', 'permission-patient', 'permission-user', 'permission-v1', 'permission-v2', 'permission-offline', 'sso-openid-connect', 'authorize-post']),
      );
    }
    const openid = await request(kiln.server).get('/fhir/.well-known/openid-configuration');
    expect(openid.body).toMatchObject({ issuer: kiln.fhirUrl, id_token_signing_alg_values_supported: ['RS256'] });
    const jwks = await request(kiln.server).get('/auth/jwks.json');
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.body.keys[0].d).toBeUndefined();
    const cs = await request(kiln.server).get('/fhir/metadata');
    const oauth = cs.body.rest[0].security.extension.find((e: { url: string }) => e.url.endsWith('oauth-uris'));
    expect(oauth.extension).toEqual(expect.arrayContaining([{ url: 'authorize', valueUri: `${kiln.origin}/auth/authorize` }, { url: 'token', valueUri: `${kiln.origin}/auth/token` }]));
  });
});

describe('the authorize endpoint', () => {
  it('shows an error page, and never redirects, for an unknown client or an unregistered redirect_uri', async () => {
    for (const extra of [{ client_id: 'unknown' }, { client_id: clientId, redirect_uri: 'https://attacker.example.org/cb' }] as Record<string, string>[]) {
      const res = await fetch(`${kiln.origin}/auth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'http://localhost:9999/callback', state: 's', scope: 'patient/*.rs', aud: kiln.fhirUrl, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', ...extra })}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('role="alert"');
    }
  });

  const redirected = async (extra: Record<string, string>) => {
    const result = await authorizationCode(kiln, { clientId, scope: 'user/*.cruds', username: practitioner.username, extra });
    return result.redirect;
  };

  it('sends errors back to the registered redirect URI with the state', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ aud: 'https://other.example.org/fhir' }, 'invalid_request'],
      [{ scope: 'user/*.cruds made-up-scope' }, 'invalid_scope'],
      [{ scope: 'system/*.rs' }, 'invalid_scope'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ launch: 'no-such-launch', scope: 'launch user/*.cruds' }, 'invalid_request'],
    ];
    for (const [extra, error] of cases) {
      const url = await redirected(extra);
      expect([extra, url?.origin + (url?.pathname ?? ''), url?.searchParams.get('error')]).toEqual([extra, 'http://localhost:9999/callback', error]);
      expect(url?.searchParams.get('state')).toBeTruthy();
    }
    const { client } = await newClient(kiln, { scope: 'patient/Observation.rs' });
    const narrow = await authorizationCode(kiln, { clientId: client.clientId, scope: 'patient/Observation.rs patient/Patient.rs', username: practitioner.username });
    expect(narrow.redirect?.searchParams.get('error')).toBe('invalid_scope');
  });

  it('refuses a wrong password with the login page again, and locks the account after repeated failures', async () => {
    const user = await newUser(kiln, 'practitioner', 'Practitioner/doc-2');
    for (let i = 0; i < 3; i++) {
      const result = await authorizationCode(kiln, { clientId, scope: 'user/*.cruds', username: user.username, password: 'wrong password here' });
      expect(result.status).toBe(401);
      expect(result.html).toContain('role="alert"');
    }
    const locked = await authorizationCode(kiln, { clientId, scope: 'user/*.cruds', username: user.username, password: PASSWORD });
    expect(locked.status).toBe(401);
    expect(locked.html).toContain('locked');
  });

  it('answers access_denied when the user does not consent', async () => {
    const start = await fetch(
      `${kiln.origin}/auth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'http://localhost:9999/callback', state: 'abc', scope: 'user/*.cruds', aud: kiln.fhirUrl, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`,
    );
    const post = (fields: Record<string, string>) => fetch(`${kiln.origin}/auth/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
    const consent = await post({ ...formFields(await start.text()), username: practitioner.username, password: PASSWORD });
    const fields = formFields(await consent.text());
    expect(fields.step).toBe('consent');
    // A session may not be moved to another request: changing a parameter sends the user back to sign in.
    const tampered = await post({ ...fields, scope: 'user/*.cruds openid', decision: 'allow' });
    expect(tampered.status).toBe(200);
    expect(formFields(await tampered.text()).step).toBe('login');
    const denied = await post({ ...fields, decision: 'deny' });
    const location = new URL(denied.headers.get('location') as string);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('abc');
  });
});

describe('tokens', () => {
  it('gives an RS256 id_token with fhirUser, verifiable with the JWKS', async () => {
    const tokens = await signIn(kiln, { clientId, scope: 'openid fhirUser user/*.cruds', username: practitioner.username, extra: { nonce: 'n-123' } });
    const jwks = createLocalJWKSet((await request(kiln.server).get('/auth/jwks.json')).body);
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token as string, jwks, { issuer: kiln.fhirUrl, audience: clientId });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.fhirUser).toBe(`${kiln.fhirUrl}/Practitioner/doc-1`);
    expect(payload.nonce).toBe('n-123');
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('uses a code once, and only with its code_verifier', async () => {
    const first = await authorizationCode(kiln, { clientId, scope: 'user/*.cruds', username: practitioner.username });
    const code = first.redirect?.searchParams.get('code') as string;
    const exchange = (verifier: string) =>
      fetch(`${kiln.origin}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://localhost:9999/callback', code_verifier: verifier, client_id: clientId }),
      });
    const wrong = await exchange('a'.repeat(43));
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: string }).error).toBe('invalid_grant');
    const second = await authorizationCode(kiln, { clientId, scope: 'user/*.cruds', username: practitioner.username });
    const code2 = second.redirect?.searchParams.get('code') as string;
    const use = () =>
      fetch(`${kiln.origin}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: code2, redirect_uri: 'http://localhost:9999/callback', code_verifier: second.verifier, client_id: clientId }),
      });
    expect((await use()).status).toBe(200);
    const replay = await use();
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('rotates refresh tokens: each works once', async () => {
    const tokens = await signIn(kiln, { clientId, scope: 'offline_access user/*.cruds', username: practitioner.username });
    const refresh = (token: string) =>
      fetch(`${kiln.origin}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: clientId }) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }),
      );
    const next = await refresh(tokens.refresh_token as string);
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).toBeTruthy();
    expect(next.body.refresh_token).not.toBe(tokens.refresh_token);
    expect((await request(kiln.server).get('/fhir/Patient').set('Authorization', `Bearer ${next.body.access_token}`)).status).toBe(200);
    expect((await refresh(tokens.refresh_token as string)).body.error).toBe('invalid_grant');
    expect((await refresh(next.body.refresh_token)).status).toBe(200);
  });

  it("introspects access and refresh tokens (RFC 7662) for an administrator's bearer token", async () => {
    const tokens = await signIn(kiln, { clientId, scope: 'openid fhirUser offline_access user/*.cruds', username: practitioner.username });
    const root = (await signIn(kiln, { clientId, scope: 'user/*.cruds', username: admin.username })).access_token;
    const introspect = (token: string, bearer?: string) =>
      fetch(`${kiln.origin}/auth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: new URLSearchParams({ token }) });
    expect((await introspect(tokens.access_token)).status).toBe(401);
    const active = (await (await introspect(tokens.access_token, root)).json()) as Record<string, unknown>;
    expect(active).toMatchObject({ active: true, client_id: clientId, scope: 'openid fhirUser offline_access user/*.cruds', fhirUser: `${kiln.fhirUrl}/Practitioner/doc-1` });
    expect(typeof active.exp).toBe('number');
    expect(((await (await introspect(tokens.refresh_token as string, root)).json()) as { active: boolean }).active).toBe(true);
    expect(((await (await introspect('nonsense', root)).json()) as { active: boolean }).active).toBe(false);
  });
});

describe('EHR launch', () => {
  it('resolves the launch into patient and encounter in the token response and the introspection', async () => {
    const tokens = await signIn(kiln, { clientId, scope: 'user/*.cruds', username: admin.username });
    const auth = `Bearer ${tokens.access_token}`;
    const patient = (await request(kiln.server).post('/fhir/Patient').set('Authorization', auth).set('Content-Type', 'application/fhir+json').send('{"resourceType":"Patient"}')).body;
    const encounter = (
      await request(kiln.server).post('/fhir/Encounter').set('Authorization', auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Encounter', status: 'in-progress', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${patient.id}` } }))
    ).body;
    const launch = await request(kiln.server).post('/admin/launch').set('Authorization', auth).send({ patient: patient.id, encounter: encounter.id });
    expect(launch.status).toBe(201);
    const launched = await signIn(kiln, { clientId, scope: 'launch openid fhirUser patient/*.rs', username: practitioner.username, launch: launch.body.launch });
    expect(launched.patient).toBe(patient.id);
    expect(launched.encounter).toBe(encounter.id);
    const own = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('Authorization', `Bearer ${launched.access_token}`);
    expect(own.status).toBe(200);
  });

  it('lets only administrators and practitioners mint launches, and only administrators manage users', async () => {
    const patientUser = await newUser(kiln, 'patient', 'Patient/pt-9');
    const { client } = await newClient(kiln, { scope: 'launch/patient patient/*.rs user/*.rs' });
    const patientToken = await signIn(kiln, { clientId: client.clientId, scope: 'launch/patient patient/*.rs', username: patientUser.username });
    expect((await request(kiln.server).post('/admin/launch').set('Authorization', `Bearer ${patientToken.access_token}`).send({ patient: 'pt-9' })).status).toBe(403);
    const doctor = await signIn(kiln, { clientId, scope: 'user/*.cruds', username: practitioner.username });
    const create = await request(kiln.server).post('/admin/users').set('Authorization', `Bearer ${doctor.access_token}`).send({ username: 'someone', password: 'long enough password', role: 'admin' });
    expect(create.status).toBe(403);
    const root = await signIn(kiln, { clientId, scope: 'user/*.cruds', username: admin.username });
    const made = await request(kiln.server).post('/admin/users').set('Authorization', `Bearer ${root.access_token}`).send({ username: `para-${Date.now()}`, password: 'long enough password', role: 'practitioner', fhirUser: 'Practitioner/para-1' });
    expect(made.status).toBe(201);
    expect(made.body.password_hash).toBeUndefined();
    const bad = await request(kiln.server).post('/admin/users').set('Authorization', `Bearer ${root.access_token}`).send({ username: 'x', password: 'short', role: 'patient' });
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
  });
});
