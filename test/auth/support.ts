// A Kiln with SMART on FHIR authorization on, and a person at a browser: follows the
// authorization code flow through the real login, patient picker and consent pages.
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type NewClient } from '../../server/auth/clients.js';
import { createUser, type NewUser } from '../../server/auth/users.js';
import type { Logger } from '../../server/logger.js';
import { startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

export async function startAuthServer(env: Record<string, string> = {}, logger?: Logger): Promise<TestServer & { origin: string }> {
  const kiln = await startTestServer({ KILN_AUTH: 'on', ...env }, logger);
  const { port } = kiln.server.address() as AddressInfo;
  return Object.assign(kiln, { origin: `http://localhost:${port}` });
}

/** Where a Kiln answers: a test server, or Kiln as its own process. */
export interface Reachable {
  origin: string;
  fhirUrl: string;
}

export const PASSWORD = 'correct horse battery';

export async function newUser(kiln: TestServer, role: NewUser['role'], fhirUser?: string) {
  return createUser(kiln.db, { username: uniqueId(role), password: PASSWORD, role, fhirUser });
}

export async function newClient(kiln: TestServer, client: Partial<NewClient> & { scope: string }) {
  return createClient(kiln.db, { name: 'Test app', kind: 'public', redirectUris: ['http://localhost:9999/callback'], ...client });
}

/** The form fields of the first form on a page (inputs, with their values). */
export function formFields(html: string): Record<string, string> {
  const form = /<form[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html)?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const input of form.matchAll(/<input[^>]*>/gi)) {
    const name = /name="([^"]*)"/.exec(input[0])?.[1];
    const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
    if (name && !/type="(radio|submit)"/.test(input[0])) fields[name] = decode(value);
  }
  return fields;
}

const decode = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface SignIn {
  clientId: string;
  scope: string;
  username: string;
  password?: string;
  redirectUri?: string;
  launch?: string;
  /** For a practitioner's standalone launch with launch/patient. */
  pickPatient?: string;
  clientSecret?: string;
  extra?: Record<string, string>;
}

async function postForm(url: string, fields: Record<string, string>) {
  return fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
}

/** Signs in through the pages and answers the redirect's code, or the error it carried. */
export async function authorizationCode(kiln: Reachable, s: SignIn) {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: s.clientId,
    redirect_uri: s.redirectUri ?? 'http://localhost:9999/callback',
    scope: s.scope,
    state,
    aud: kiln.fhirUrl,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(s.launch ? { launch: s.launch } : {}),
    ...s.extra,
  });
  const authorize = `${kiln.origin}/auth/authorize`;
  let page = await fetch(`${authorize}?${params}`, { redirect: 'manual' });
  if (page.status === 302) return { redirect: new URL(page.headers.get('location') as string), verifier, state };
  let html = await page.text();
  page = await postForm(authorize, { ...formFields(html), username: s.username, password: s.password ?? PASSWORD });
  for (let step = 0; step < 3 && page.status !== 302; step++) {
    html = await page.text();
    if (page.status !== 200) return { status: page.status, html, verifier, state };
    const fields = formFields(html);
    if (fields.step === 'pick') page = await postForm(authorize, { ...fields, patient: s.pickPatient ?? '' });
    else if (fields.step === 'consent') page = await postForm(authorize, { ...fields, decision: 'allow' });
    else return { status: page.status, html, verifier, state };
  }
  return { redirect: new URL(page.headers.get('location') as string), verifier, state };
}

/** The whole flow: code, then tokens. */
export async function signIn(kiln: Reachable, s: SignIn) {
  const result = await authorizationCode(kiln, s);
  const code = result.redirect?.searchParams.get('code');
  if (!code) throw new Error(`no code: ${result.redirect?.toString() ?? `${result.status} ${result.html?.slice(0, 500)}`}`);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (s.clientSecret) headers.authorization = `Basic ${Buffer.from(`${s.clientId}:${s.clientSecret}`).toString('base64')}`;
  const response = await fetch(`${kiln.origin}/auth/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: s.redirectUri ?? 'http://localhost:9999/callback', code_verifier: result.verifier, ...(s.clientSecret ? {} : { client_id: s.clientId }) }),
  });
  const body = (await response.json()) as Record<string, string | number | boolean>;
  if (response.status !== 200) throw new Error(`token: ${response.status} ${JSON.stringify(body)}`);
  return body as { access_token: string; refresh_token?: string; id_token?: string; patient?: string; encounter?: string; scope: string; expires_in: number; token_type: string };
}

/** The hidden fields of the sign-in page of a fresh authorization request of `clientId` (scope user/*.rs). */
export async function signInForm(kiln: Reachable, clientId: string): Promise<Record<string, string>> {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: 'http://localhost:9999/callback',
    scope: 'user/*.rs',
    state: 'sign-in',
    aud: kiln.fhirUrl,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });
  const page = await fetch(`${kiln.origin}/auth/authorize?${params}`);
  const fields = formFields(await page.text());
  if (fields.step !== 'login') throw new Error(`no sign-in page: ${page.status}`);
  return fields;
}

/** A loopback address of its own (127.x.y.z), so that what is counted per address is this test's alone. */
export function ownLoopbackAddress(): string {
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return `127.${byte()}.${byte()}.${byte()}`;
}

/**
 * Posts the sign-in form as a browser would, from `from` (a loopback address, see
 * ownLoopbackAddress) when given; answers the status, the Retry-After header and the page.
 */
export function postSignIn(kiln: Reachable, form: Record<string, string>, username: string, password: string, from?: string): Promise<{ status: number; retryAfter: string | undefined; html: string }> {
  const url = new URL(`${kiln.origin}/auth/authorize`);
  const body = new URLSearchParams({ ...form, username, password }).toString();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname === 'localhost' ? '127.0.0.1' : url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let html = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (html += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], html }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
