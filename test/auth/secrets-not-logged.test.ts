// Nothing secret reaches the request log: the query string of every /auth URL is left out, and the
// values of access_token, code, refresh_token, password, client_secret, client_assertion, id_token
// and token are redacted from any URL. A username or password in the URL of the sign-in page is
// refused: credentials travel only in a POST body.
import { Writable } from 'node:stream';
import { createLogger } from '../../server/logger.js';
import type { TestServer } from '../support/test-server.js';
import { formFields, newClient, newUser, PASSWORD, pkce, startAuthServer } from './support.js';

const SECRET_PARAMETERS = ['access_token', 'code', 'refresh_token', 'password', 'client_secret', 'client_assertion', 'id_token', 'token'];

let kiln: TestServer & { origin: string };
let clientId: string;
const logged: string[] = [];

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  kiln = await startAuthServer({}, createLogger('info', sink));
  ({ client: { clientId } } = await newClient(kiln, { scope: 'user/*.rs' }));
});
afterAll(() => kiln.stop());

/** Sends a request with its own id and answers it with the request log line written for it. */
async function loggedRequest(path: string, init: RequestInit = {}) {
  const id = `log-${crypto.randomUUID()}`;
  const response = await fetch(`${kiln.origin}${path}`, { redirect: 'manual', ...init, headers: { ...init.headers, 'x-request-id': id } });
  const body = await response.text();
  const deadline = Date.now() + 5000;
  let line: string | undefined;
  while (!(line = logged.find((l) => l.includes(id) && l.includes('request completed'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!line) throw new Error(`no request log line for ${path}`);
  return { response, body, line: JSON.parse(line) as { url: string; status: number }, all: logged.filter((l) => l.includes(id)).join('\n') };
}

const authorizeQuery = (extra: Record<string, string> = {}) =>
  new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: 'http://localhost:9999/callback',
    scope: 'user/*.rs',
    state: 'state-SECRET-1',
    aud: kiln.fhirUrl,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });

it('logs the URL of an /auth request without its query string', async () => {
  const authorize = await loggedRequest(`/auth/authorize?${authorizeQuery({ launch: 'launch-SECRET-2' })}`);
  expect(authorize.line.url).toBe('/auth/authorize');
  const token = await loggedRequest('/auth/token?client_secret=secret-SECRET-3&code=code-SECRET-4', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=x',
  });
  expect(token.line.url).toBe('/auth/token');
  expect(`${authorize.all}\n${token.all}`).not.toMatch(/SECRET/);
});

it('redacts the value of every secret parameter in any other URL, and keeps the rest of the query', async () => {
  const secrets = SECRET_PARAMETERS.map((name) => `${name}=${name}-SECRET-5`).join('&');
  const fhir = await loggedRequest(`/fhir/Patient?name=smith&${secrets}&_count=5`);
  expect(fhir.line.url).toContain('/fhir/Patient?name=smith&');
  expect(fhir.line.url).toContain('&_count=5');
  for (const name of SECRET_PARAMETERS) expect(fhir.line.url).toContain(`${name}=`);
  // A name written with percent-escapes, or in capitals, is the same parameter to whoever reads it.
  const disguised = await loggedRequest('/fhir/Patient?acc%65ss_token=escaped-SECRET-6&ACCESS_TOKEN=upper-SECRET-7');
  expect(`${fhir.all}\n${disguised.all}`).not.toMatch(/SECRET/);
});

it('refuses a username and password in the URL of the sign-in page with an error page, and signs no one in', async () => {
  const user = await newUser(kiln, 'practitioner', 'Practitioner/url-login');
  const start = await fetch(`${kiln.origin}/auth/authorize?${authorizeQuery()}`);
  const fields = formFields(await start.text());
  const credentials = { ...fields, username: user.username, password: PASSWORD };
  for (const [method, path] of [
    ['GET', `/auth/authorize?${new URLSearchParams(credentials)}`],
    ['POST', `/auth/authorize?${new URLSearchParams({ password: PASSWORD })}`],
  ]) {
    const answer = await loggedRequest(path, method === 'POST' ? { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, username: user.username }) } : {});
    expect([method, answer.response.status, answer.response.headers.get('content-type')]).toEqual([method, 400, 'text/html; charset=utf-8']);
    expect(answer.body).toContain('role="alert"');
    expect(formFields(answer.body).session).toBeUndefined();
    expect(answer.response.headers.get('location')).toBeNull();
    expect(answer.all).not.toContain(PASSWORD);
  }
  // In the body, the same credentials sign in.
  const posted = await fetch(`${kiln.origin}/auth/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(credentials) });
  expect(formFields(await posted.text()).step).toBe('consent');
});
