// The sign-in pages in a real browser (headless Chromium): a practitioner's standalone launch with
// launch/patient goes through sign-in, the patient picker (a search, a second page) and consent; a
// patient's own launch through sign-in and consent. Each checks what a person sees there and ends
// with the redirect to the app carrying a code, which the app then exchanges for a token. A
// screenshot of each page is kept (see chromium.ts for where).
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { newClient, newUser, PASSWORD, pkce, startAuthServer } from '../auth/support.js';
import type { TestServer } from '../support/test-server.js';
import { keepScreenshot, launchChromium } from './chromium.js';
import { storePatient, storePickablePatients, uniqueFamilyStem } from './people.js';

const APP = 'Health Diary';
const REDIRECT_URI = 'http://localhost:9999/callback';
const SCOPE = 'openid fhirUser launch/patient patient/*.rs patient/*.read';
const LOCK_MINUTES = 15;

let kiln: TestServer & { origin: string };
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let clientId: string;
let practitioner: string;
let patientUser: string;
let jane: string;
const stem = uniqueFamilyStem();
let pickable: string[] = [];

beforeAll(async () => {
  // First, so that a missing browser fails the file at once, saying how to install it.
  browser = await launchChromium();
  kiln = await startAuthServer({ KILN_LOGIN_LOCK_MINUTES: String(LOCK_MINUTES) });
  ({ client: { clientId } } = await newClient(kiln, { name: APP, scope: SCOPE, redirectUris: [REDIRECT_URI] }));
  jane = await storePatient(kiln, { name: [{ family: 'Doe', given: ['Jane'] }], birthDate: '1980-02-03' });
  practitioner = (await newUser(kiln, 'practitioner', 'Practitioner/browser-1')).username;
  patientUser = (await newUser(kiln, 'patient', `Patient/${jane}`)).username;
  pickable = await storePickablePatients(kiln, stem);
});
afterAll(async () => {
  await browser?.close();
  await kiln?.stop();
});

/** A fresh browser profile per test; the app's redirect URI answers with a page of its own. */
async function openPage(): Promise<Page> {
  context = await (browser as Browser).newContext({ viewport: { width: 800, height: 720 } });
  await context.route(`${REDIRECT_URI}**`, (route) =>
    route.fulfill({ contentType: 'text/html', body: '<!DOCTYPE html><html lang="en"><title>Health Diary</title><h1>Back in Health Diary</h1><p>Signed in.</p></html>' }),
  );
  return context.newPage();
}
afterEach(async () => {
  await context?.close();
  context = undefined;
});

function authorizeUrl(challenge: string, state: string): string {
  const params = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: SCOPE, state, aud: kiln.fhirUrl, code_challenge: challenge, code_challenge_method: 'S256' });
  return `${kiln.origin}/auth/authorize?${params}`;
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 }).innerText();
const radioLabels = (page: Page) => page.locator('fieldset label').allInnerTexts();

/** The permissions listed on the consent page: each line's explanation, without the scope codes. */
async function permissions(page: Page): Promise<string[]> {
  return page.locator('ul[aria-labelledby="scopes-intro"] > li').evaluateAll((items) => items.map((item) => (item.firstChild?.textContent ?? '').trim()));
}

/** Allows on the consent page and answers the redirect to the app, after exchanging its code for a token. */
async function allow(page: Page, verifier: string, state: string) {
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${REDIRECT_URI}**`);
  const callback = new URL(page.url());
  expect(callback.searchParams.get('state')).toBe(state);
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const token = await fetch(`${kiln.origin}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: code as string, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: clientId }),
  });
  expect(token.status).toBe(200);
  return (await token.json()) as { patient?: string; scope: string };
}

it("takes a practitioner through sign-in, the patient picker and consent to the app's redirect with a code", async () => {
  const page = await openPage();
  const { verifier, challenge } = pkce();
  await page.goto(authorizeUrl(challenge, 'practitioner-launch'));
  expect(await heading(page)).toBe('Sign in');
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
  await keepScreenshot(page, 'practitioner-1-sign-in');

  await signIn(page, practitioner, PASSWORD);
  expect(await heading(page)).toBe('Choose a patient');
  await page.getByLabel('Search patients by name').fill(stem);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForLoadState();
  expect(await page.getByRole('status').innerText()).toBe(`Patients 1–20 of 25 matching “${stem}”.`);
  expect(await radioLabels(page)).toEqual(pickable.slice(0, 20));
  await keepScreenshot(page, 'practitioner-2-patient-picker');

  await page.getByRole('link', { name: 'Next patients (21–25)' }).click();
  await page.waitForLoadState();
  expect(await page.getByRole('status').innerText()).toBe(`Patients 21–25 of 25 matching “${stem}”.`);
  expect(await page.getByLabel('Search patients by name').inputValue()).toBe(stem);
  expect(await radioLabels(page)).toEqual(pickable.slice(20));
  await keepScreenshot(page, 'practitioner-3-patient-picker-page-2');

  const hal = page.getByLabel(`${stem}b, Hal — born 19 August 1948`);
  const chosen = (await hal.getAttribute('value')) as string;
  await hal.check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForLoadState();
  expect(await heading(page)).toBe(`Allow ${APP} to access the records of Hal ${stem}b?`);
  const body = await page.locator('main').innerText();
  expect(body).toContain(`${APP} will access the records of Hal ${stem}b, born 19 August 1948.`);
  expect(body).not.toContain('your records');
  expect(body).not.toContain(`Patient/${chosen}`);
  expect(await permissions(page)).toEqual(['Know who you are', 'Know which patient is selected', `Read and search all Hal ${stem}b’s records`]);
  await keepScreenshot(page, 'practitioner-4-consent');

  const token = await allow(page, verifier, 'practitioner-launch');
  expect(token.patient).toBe(chosen);
});

it("takes a patient through sign-in and consent for their own records to the app's redirect with a code", async () => {
  const page = await openPage();
  const { verifier, challenge } = pkce();
  await page.goto(authorizeUrl(challenge, 'patient-launch'));
  await signIn(page, patientUser, 'not the password at all');
  // A wrong password: the one refusal, naming how long a lock lasts.
  expect(await page.getByRole('alert').innerText()).toBe(
    `The username or password is not right, or the account is locked for ${LOCK_MINUTES} minutes after too many attempts; check them, or try again later.`,
  );
  await keepScreenshot(page, 'patient-1-sign-in-refused');

  await signIn(page, patientUser, PASSWORD);
  expect(await heading(page)).toBe(`Allow ${APP} to access your records?`);
  expect(await page.locator('main').innerText()).not.toContain('will access the records of');
  expect(await permissions(page)).toEqual(['Know who you are', 'Know which patient is selected', 'Read and search all your records']);
  await keepScreenshot(page, 'patient-2-consent');

  const token = await allow(page, verifier, 'patient-launch');
  expect(token.patient).toBe(jane);
});

it('names what a bare /auth/authorize is missing', async () => {
  const page = await openPage();
  const response = await page.goto(`${kiln.origin}/auth/authorize`);
  expect(response?.status()).toBe(400);
  expect(await heading(page)).toBe('This sign-in request cannot go on');
  const missing = await page.locator('main li code').allInnerTexts();
  expect(missing).toEqual(['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method']);
  await keepScreenshot(page, 'bare-authorize');
});
