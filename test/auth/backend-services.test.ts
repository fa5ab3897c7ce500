// SMART Backend Services: a client signs its own JWT (RS384 or ES384) and gets a system/ token;
// every rule of the assertion is checked, and client_secret_basic works for confidential apps.
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { TestServer } from '../support/test-server.js';
import { newClient, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let keys: { rs: CryptoKeyPair; es: CryptoKeyPair; stranger: CryptoKeyPair };
let jwks: { keys: JWK[] };
let clientId: string;
let jwksServer: Server;

const tokenUrl = () => `${kiln.origin}/auth/token`;

beforeAll(async () => {
  kiln = await startAuthServer();
  keys = {
    rs: await generateKeyPair('RS384', { extractable: true }),
    es: await generateKeyPair('ES384', { extractable: true }),
    stranger: await generateKeyPair('RS384', { extractable: true }),
  };
  jwks = { keys: [{ ...(await exportJWK(keys.rs.publicKey)), kid: 'rs', alg: 'RS384' }, { ...(await exportJWK(keys.es.publicKey)), kid: 'es', alg: 'ES384' }] };
  ({ client: { clientId } } = await newClient(kiln, { kind: 'confidential-asymmetric', jwks, redirectUris: [], grantTypes: ['client_credentials'], scope: 'system/*.rs system/Observation.c' }));
  jwksServer = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  jwksServer.close();
  await kiln.stop();
});

interface Assertion {
  client?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  expiresIn?: number | null;
  jti?: string;
  key?: CryptoKey;
  alg?: string;
  kid?: string;
  jku?: string;
}

async function assertion(a: Assertion = {}): Promise<string> {
  const id = a.client ?? clientId;
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: a.alg ?? 'RS384', kid: a.kid ?? 'rs', typ: 'JWT', ...(a.jku ? { jku: a.jku } : {}) })
    .setIssuer(a.iss ?? id)
    .setSubject(a.sub ?? id)
    .setAudience(a.aud ?? tokenUrl())
    .setJti(a.jti ?? crypto.randomUUID());
  if (a.expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (a.expiresIn ?? 240));
  return jwt.sign(a.key ?? keys.rs.privateKey);
}

const token = (fields: Record<string, string>) =>
  fetch(tokenUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));

const clientCredentials = async (a: Assertion = {}, scope = 'system/Observation.rs') =>
  token({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(a) });

it('gives a system token for an RS384 or ES384 assertion, and the token works on the FHIR API', async () => {
  const rs = await clientCredentials();
  expect(rs.status).toBe(200);
  expect(rs.body).toMatchObject({ token_type: 'Bearer', scope: 'system/Observation.rs' });
  expect(rs.body.refresh_token).toBeUndefined();
  const es = await clientCredentials({ alg: 'ES384', kid: 'es', key: keys.es.privateKey });
  expect(es.status).toBe(200);
  const search = await request(kiln.server).get('/fhir/Observation').set('Authorization', `Bearer ${rs.body.access_token}`);
  expect(search.status).toBe(200);
  const create = await request(kiln.server).post('/fhir/Observation').set('Authorization', `Bearer ${rs.body.access_token}`).set('Content-Type', 'application/fhir+json').send('{"resourceType":"Observation","status":"final","code":{"text":"x"}}');
  expect(create.status).toBe(403);
});

it('accepts keys from a registered JWKS URL', async () => {
  const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  const { client } = await newClient(kiln, { kind: 'confidential-asymmetric', jwksUri: url, redirectUris: [], grantTypes: ['client_credentials'], scope: 'system/*.rs' });
  const answer = await clientCredentials({ client: client.clientId, jku: url });
  expect(answer.status).toBe(200);
});

describe('an assertion checked to the letter', () => {
  const cases: [string, () => Promise<Assertion>][] = [
    ['iss and sub differ', async () => ({ sub: 'someone-else' })],
    ['aud is not the token URL', async () => ({ aud: `${kiln.origin}/auth/other` })],
    ['exp is missing', async () => ({ expiresIn: null })],
    ['exp is more than five minutes ahead', async () => ({ expiresIn: 600 })],
    ['it has expired', async () => ({ expiresIn: -30 })],
    ['it is signed with a key the client did not register', async () => ({ key: keys.stranger.privateKey })],
    ['it names a jku the client did not register', async () => ({ jku: 'https://attacker.example.org/jwks.json' })],
    ['it is signed with RS256, not RS384 or ES384', async () => ({ alg: 'RS256' })],
    ['the client is unknown', async () => ({ client: 'no-such-client' })],
  ];
  it.each(cases)('refuses it when %s (401 invalid_client)', async (_name, build) => {
    const a = await build();
    const answer = a.alg === 'RS256'
      ? await token({ grant_type: 'client_credentials', scope: 'system/Observation.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'rs' }).setIssuer(clientId).setSubject(clientId).setAudience(tokenUrl()).setJti(crypto.randomUUID()).setExpirationTime('2m').sign((await generateKeyPair('RS256')).privateKey) })
      : await clientCredentials(a);
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('refuses an unsigned assertion (alg none)', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ iss: clientId, sub: clientId, aud: tokenUrl(), exp: Math.floor(Date.now() / 1000) + 60, jti: crypto.randomUUID() })).toString('base64url');
    const answer = await token({ grant_type: 'client_credentials', scope: 'system/Observation.rs', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: `${header}.${body}.` });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toBe('invalid_client');
  });

  it('refuses a jti used before', async () => {
    const jti = crypto.randomUUID();
    expect((await clientCredentials({ jti })).status).toBe(200);
    const replay = await clientCredentials({ jti });
    expect(replay.status).toBe(401);
    expect(replay.body.error_description).toContain('jti');
  });
});

it('refuses a scope Kiln does not know, or one the client may not have, with invalid_scope', async () => {
  for (const scope of ['system/Observation.rs bogus-scope', 'system/Patient.cruds', 'patient/Observation.rs', 'user/Observation.rs']) {
    const answer = await clientCredentials({}, scope);
    expect([scope, answer.status, answer.body.error]).toEqual([scope, 400, 'invalid_scope']);
  }
});

it('refuses a grant the client is not registered for with unauthorized_client', async () => {
  const { client } = await newClient(kiln, { kind: 'confidential-asymmetric', jwks, redirectUris: ['http://localhost:9999/callback'], grantTypes: ['authorization_code'], scope: 'system/*.rs user/*.rs' });
  const answer = await clientCredentials({ client: client.clientId });
  expect(answer.status).toBe(400);
  expect(answer.body.error).toBe('unauthorized_client');
});

it('lets a confidential app authenticate with client_secret_basic, and refuses a wrong secret', async () => {
  const { client, secret } = await newClient(kiln, { kind: 'confidential-symmetric', redirectUris: [], grantTypes: ['client_credentials'], scope: 'system/Patient.rs' });
  const basic = (s: string) => `Basic ${Buffer.from(`${client.clientId}:${s}`).toString('base64')}`;
  const post = (authorization: string) =>
    fetch(tokenUrl(), { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/Patient.rs' }) });
  const ok = await post(basic(secret as string));
  expect(ok.status).toBe(200);
  const wrong = await post(basic('not-the-secret'));
  expect(wrong.status).toBe(401);
  expect(((await wrong.json()) as { error: string }).error).toBe('invalid_client');
  expect(wrong.headers.get('www-authenticate')).toContain('Basic');
});
