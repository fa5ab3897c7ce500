// SMART App Launch as a real app does it: fhirclient (SMART Health IT's JavaScript client) through
// its Node adapter, without a browser, against a real Kiln. Covers the EHR launch (launch handle →
// login → consent → patient, encounter and fhirUser in context, a patient-confined token that
// searches only its patient and is refused another's data), the standalone launch of a practitioner
// (patient picker) and of a patient (their own record, no picker), and client.refresh().
import type { Resource } from '@medplum/fhirtypes';
import smart from 'fhirclient/lib/entry/node.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { create } from '../../server/fhir/interactions/create.js';
import type { TestServer } from '../support/test-server.js';
import { formFields, newClient, newUser, PASSWORD, signIn, startAuthServer } from './support.js';

type Client = Awaited<ReturnType<ReturnType<typeof smart>['ready']>>;
/** What fhirclient keeps an app's session in (the Node adapter would use req.session). */
interface AppSession {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
  unset(key: string): Promise<boolean>;
}
type AuthorizeParams = Parameters<ReturnType<typeof smart>['authorize']>[0];
type Bundle = { resourceType: 'Bundle'; entry?: { resource: Resource }[] };

const APP = 'http://localhost:9999';
const REDIRECT_URI = `${APP}/callback`;

let kiln: TestServer & { origin: string };
let appClientId: string;
let practitioner: { username: string; fhirUser: string };
let patientUser: { username: string; fhirUser: string };
/** alice: the patient on the EHR's screen; bob: another patient; carol: the patient who signs in. */
const ids = { alice: '', bob: '', carol: '', encounter: '', aliceObs: [] as string[], bobObs: '', carolObs: '' };

const store = async (resource: Resource) => (await create(kiln.ctx, resource)).id;
const observation = (patient: string, text: string): Resource => ({ resourceType: 'Observation', status: 'final', code: { text }, subject: { reference: `Patient/${patient}` } });

beforeAll(async () => {
  kiln = await startAuthServer();
  ids.alice = await store({ resourceType: 'Patient', name: [{ family: 'Alvarez', given: ['Alice'] }] });
  ids.bob = await store({ resourceType: 'Patient', name: [{ family: 'Brown', given: ['Bob'] }] });
  ids.carol = await store({ resourceType: 'Patient', name: [{ family: 'Chen', given: ['Carol'] }] });
  ids.encounter = await store({ resourceType: 'Encounter', status: 'in-progress', class: { code: 'AMB' }, subject: { reference: `Patient/${ids.alice}` } });
  ids.aliceObs = [await store(observation(ids.alice, 'pulse')), await store(observation(ids.alice, 'weight'))];
  ids.bobObs = await store(observation(ids.bob, 'pulse'));
  ids.carolObs = await store(observation(ids.carol, 'pulse'));
  const doctor = await store({ resourceType: 'Practitioner', name: [{ family: 'House' }] });
  practitioner = { username: (await newUser(kiln, 'practitioner', `Practitioner/${doctor}`)).username, fhirUser: `Practitioner/${doctor}` };
  patientUser = { username: (await newUser(kiln, 'patient', `Patient/${ids.carol}`)).username, fhirUser: `Patient/${ids.carol}` };
  const app = await newClient(kiln, {
    scope: 'launch launch/patient openid fhirUser patient/*.rs offline_access',
    grantTypes: ['authorization_code', 'refresh_token'],
  });
  appClientId = app.client.clientId;
});
afterAll(() => kiln.stop());

// The app's side: the browser session fhirclient keeps its state in, and the requests and responses
// Node's http server would hand the app (only what the Node adapter reads and writes).

function memoryStorage(): AppSession {
  const items = new Map<string, unknown>();
  return {
    get: async (key: string) => items.get(key),
    set: async (key: string, value: unknown) => (items.set(key, value), value),
    unset: async (key: string) => items.delete(key),
  };
}

function appRequest(url: string): IncomingMessage {
  const { host, pathname, search } = new URL(url);
  return { url: pathname + search, headers: { host }, socket: {} } as unknown as IncomingMessage;
}

/** A response that records the redirect the app sends the browser. */
function appResponse() {
  const sent: { status?: number; location?: string } = {};
  const res = {
    writeHead(status: number, headers: { location: string }) {
      sent.status = status;
      sent.location = headers.location;
      return res;
    },
    end: () => res,
  };
  return { res: res as unknown as ServerResponse, sent };
}

// The user's side: Kiln's pages, followed the way a browser submits their forms.

interface User {
  username: string;
  /** The patient to choose if Kiln shows the patient picker. */
  pick?: string;
}

async function signInAtKiln(authorizeUrl: string, user: User): Promise<{ callback: string; steps: string[] }> {
  const steps: string[] = [];
  let page = await fetch(authorizeUrl, { redirect: 'manual' });
  while (page.status === 200 && steps.length < 5) {
    const html = await page.text();
    const action = /<form[^>]*method="post"[^>]*action="([^"]*)"/i.exec(html)?.[1];
    const fields = formFields(html);
    steps.push(fields.step);
    const answers: Record<string, Record<string, string> | undefined> = {
      login: { username: user.username, password: PASSWORD },
      pick: user.pick ? { patient: user.pick } : undefined,
      consent: { decision: 'allow' },
    };
    const answer = answers[fields.step];
    if (!action || !answer) throw new Error(`no way on from step ${fields.step}: ${html.slice(0, 500)}`);
    page = await fetch(action, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, ...answer }) });
  }
  if (page.status !== 302) throw new Error(`Kiln answered ${page.status}: ${(await page.text()).slice(0, 500)}`);
  return { callback: page.headers.get('location') as string, steps };
}

/**
 * A whole launch: the app's launch page calls authorize() and redirects to Kiln, the user signs in
 * there, Kiln redirects to the app's redirect_uri, whose page calls ready().
 */
async function launch(launchUrl: string, params: AuthorizeParams, user: User, settings: Partial<ReturnType<typeof smart>['options']> = {}) {
  const storage = memoryStorage();
  const launchPage = appResponse();
  await smart(appRequest(launchUrl), launchPage.res, storage).authorize({ clientId: appClientId, redirectUri: REDIRECT_URI, pkceMode: 'required', ...params });
  expect(launchPage.sent.status).toBe(302);
  const authorizeUrl = new URL(launchPage.sent.location as string);
  expect(`${authorizeUrl.origin}${authorizeUrl.pathname}`).toBe(`${kiln.origin}/auth/authorize`);
  expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');

  const { callback, steps } = await signInAtKiln(authorizeUrl.href, user);
  const back = new URL(callback);
  expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
  expect(back.searchParams.get('state')).toBe(authorizeUrl.searchParams.get('state'));
  expect(back.searchParams.get('code')).toBeTruthy();

  const redirectPage = smart(appRequest(callback), appResponse().res, storage);
  Object.assign(redirectPage.options, settings);
  const client = await redirectPage.ready();
  return { client, steps, storage };
}

const idsOf = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource.id).sort();

describe('fhirclient: EHR launch', () => {
  let client: Client;
  let steps: string[];

  beforeAll(async () => {
    // The EHR, signed in as the practitioner, mints a launch handle for Alice's encounter...
    const ehr = await newClient(kiln, { scope: 'user/*.cruds' });
    const { access_token } = await signIn(kiln, { clientId: ehr.client.clientId, scope: 'user/*.cruds', username: practitioner.username });
    const minted = await fetch(`${kiln.origin}/admin/launch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ patient: ids.alice, encounter: ids.encounter }),
    });
    expect(minted.status).toBe(201);
    const { launch: handle } = (await minted.json()) as { launch: string };
    // ...and opens the app's launch URL with iss and launch, where fhirclient reads them.
    const launchUrl = `${APP}/launch?${new URLSearchParams({ iss: kiln.fhirUrl, launch: handle })}`;
    ({ client, steps } = await launch(launchUrl, { scope: 'launch openid fhirUser patient/*.rs offline_access' }, { username: practitioner.username }));
  });

  it('signs the practitioner in and asks for consent, without a patient picker', () => {
    expect(steps).toEqual(['login', 'consent']);
  });

  it('gives the app the launch patient and encounter, and the practitioner as the user', () => {
    expect(client.patient.id).toBe(ids.alice);
    expect(client.encounter.id).toBe(ids.encounter);
    expect(client.getFhirUser()).toBe(practitioner.fhirUser);
    expect(client.getUserType()).toBe('Practitioner');
    expect(client.getIdToken()).toMatchObject({ iss: kiln.fhirUrl, aud: appClientId, fhirUser: `${kiln.fhirUrl}/${practitioner.fhirUser}` });
  });

  it('holds an access token, a refresh token and an id_token', () => {
    const tokens = client.state.tokenResponse ?? {};
    expect(tokens).toMatchObject({ token_type: 'Bearer', patient: ids.alice, encounter: ids.encounter });
    for (const name of ['access_token', 'refresh_token', 'id_token'] as const) expect(typeof tokens[name]).toBe('string');
    expect(tokens.scope).toEqual(expect.stringContaining('offline_access'));
    expect(client.state.expiresAt).toBeGreaterThan(Date.now() / 1000);
  });

  it('reads the patient and the encounter in context', async () => {
    const patient = (await client.patient.read()) as Resource;
    expect(patient).toMatchObject({ resourceType: 'Patient', id: ids.alice, name: [{ family: 'Alvarez' }] });
    expect(await client.encounter.read()).toMatchObject({ resourceType: 'Encounter', id: ids.encounter });
  });

  it("finds only the patient's Observations, also when the search names no patient", async () => {
    expect(idsOf((await client.request(`Observation?patient=${ids.alice}`)) as Bundle)).toEqual([...ids.aliceObs].sort());
    expect(idsOf((await client.request('Observation')) as Bundle)).toEqual([...ids.aliceObs].sort());
  });

  it("finds another patient's data no more than data that does not exist (404)", async () => {
    await expect(client.request(`Observation/${ids.bobObs}`)).rejects.toMatchObject({ status: 404 });
    await expect(client.request(`Patient/${ids.bob}`)).rejects.toMatchObject({ status: 404 });
  });
});

describe('fhirclient: standalone launch', () => {
  it('lets a practitioner pick the patient', async () => {
    const { client, steps } = await launch(`${APP}/launch`, { iss: kiln.fhirUrl, scope: 'launch/patient openid fhirUser patient/*.rs' }, { username: practitioner.username, pick: ids.bob });
    expect(steps).toEqual(['login', 'pick', 'consent']);
    expect(client.patient.id).toBe(ids.bob);
    expect(client.encounter.id).toBeNull();
    expect(client.getFhirUser()).toBe(practitioner.fhirUser);
    expect(await client.patient.read()).toMatchObject({ resourceType: 'Patient', id: ids.bob });
    expect(idsOf((await client.request('Observation')) as Bundle)).toEqual([ids.bobObs]);
    await expect(client.request(`Patient/${ids.alice}`)).rejects.toMatchObject({ status: 404 });
  });

  it("confines a patient to their own record, without a picker", async () => {
    const { client, steps } = await launch(`${APP}/launch`, { iss: kiln.fhirUrl, scope: 'launch/patient patient/*.rs openid fhirUser' }, { username: patientUser.username });
    expect(steps).toEqual(['login', 'consent']);
    expect(client.patient.id).toBe(ids.carol);
    expect(client.getFhirUser()).toBe(patientUser.fhirUser);
    expect(client.getUserType()).toBe('Patient');
    expect(await client.patient.read()).toMatchObject({ resourceType: 'Patient', id: ids.carol });
    expect(idsOf((await client.request(`Observation?patient=${ids.carol}`)) as Bundle)).toEqual([ids.carolObs]);
    expect(idsOf((await client.request(`Observation?patient=${ids.bob}`)) as Bundle)).toEqual([]);
    await expect(client.request(`Patient/${ids.alice}`)).rejects.toMatchObject({ status: 404 });
    await expect(client.request(`Observation/${ids.bobObs}`)).rejects.toMatchObject({ status: 404 });
  });
});

describe('fhirclient: refresh', () => {
  const scope = 'launch/patient openid fhirUser patient/*.rs offline_access';

  // With refreshTokenWithClientId fhirclient names the app when it refreshes; without it, it sends
  // the refresh token alone (the test after this one). Kiln takes both.
  it('refresh() trades the refresh token for a new access token that works', async () => {
    const { client, storage } = await launch(`${APP}/launch`, { iss: kiln.fhirUrl, scope }, { username: patientUser.username }, { refreshTokenWithClientId: true });
    const before = { ...client.state.tokenResponse };
    await client.refresh();
    const after = client.state.tokenResponse ?? {};
    expect(typeof after.access_token).toBe('string');
    expect(after.access_token).not.toBe(before.access_token);
    expect(await client.patient.read()).toMatchObject({ id: ids.carol });
    // Kiln rotates refresh tokens: fhirclient got a new one, and the old one is spent.
    expect(typeof after.refresh_token).toBe('string');
    expect(after.refresh_token).not.toBe(before.refresh_token);
    const replay = await fetch(`${kiln.origin}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: String(before.refresh_token), client_id: appClientId }),
    });
    expect(replay.status).toBe(400);
    // fhirclient saved the refreshed tokens in the app's session.
    const saved = (await storage.get(client.state.key as string)) as { tokenResponse: { access_token: string } };
    expect(saved.tokenResponse.access_token).toBe(after.access_token);
  });

  // SMART App Launch lets a public app refresh with grant_type and refresh_token alone, which is
  // what fhirclient sends by default.
  it("refresh() with fhirclient's default settings (no client_id in the request)", async () => {
    const { client } = await launch(`${APP}/launch`, { iss: kiln.fhirUrl, scope }, { username: patientUser.username });
    const before = client.state.tokenResponse?.access_token;
    await client.refresh();
    const after = client.state.tokenResponse?.access_token;
    expect(typeof after).toBe('string');
    expect(after).not.toBe(before);
    expect(await client.patient.read()).toMatchObject({ id: ids.carol });
  });
});
