// What a person reads on the sign-in pages, followed over HTTP the way a browser submits their
// forms: the consent page names the patient and speaks to a practitioner or a patient as each
// one is, lists each permission once; the patient picker counts, pages and sorts by the name it
// shows; a refused sign-in names the lock's duration; a bare authorize names what it lacks.
import { formFields, newClient, newUser, PASSWORD, pkce, postSignIn, signInForm, startAuthServer } from '../auth/support.js';
import type { TestServer } from '../support/test-server.js';
import { storePatient, storePickablePatients, uniqueFamilyStem } from './people.js';

const LOCK_MINUTES = 7;
const MAX_FAILURES = 3;
let kiln: TestServer & { origin: string };
let clientId: string;
let practitioner: string;
let patientUser: string;
let jane: string;
/** The stem of the two family names of the patients of the picker tests, unique to this run. */
const stem = uniqueFamilyStem();
/** The picker's patients as it must show them: family name first, sorted by family then given. */
const pickable: string[] = [];

beforeAll(async () => {
  kiln = await startAuthServer({ KILN_LOGIN_MAX_FAILURES: String(MAX_FAILURES), KILN_LOGIN_LOCK_MINUTES: String(LOCK_MINUTES) });
  ({ client: { clientId } } = await newClient(kiln, { scope: 'openid fhirUser profile launch/patient patient/*.cruds user/*.rs' }));
  jane = await storePatient(kiln, { name: [{ family: 'Doe', given: ['Jane'] }], birthDate: '1980-02-03' });
  practitioner = (await newUser(kiln, 'practitioner', 'Practitioner/sign-in-pages-1')).username;
  patientUser = (await newUser(kiln, 'patient', `Patient/${jane}`)).username;
  pickable.push(...(await storePickablePatients(kiln, stem)));
});
afterAll(() => kiln.stop());

const authorize = () => `${kiln.origin}/auth/authorize`;

function authorizeQuery(scope: string): URLSearchParams {
  return new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'http://localhost:9999/callback', scope, state: 'pages', aud: kiln.fhirUrl, code_challenge: pkce().challenge, code_challenge_method: 'S256' });
}

const post = (fields: Record<string, string>) =>
  fetch(authorize(), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });

/** Signs in for `scope` and answers the page that follows the sign-in page. */
async function afterSignIn(scope: string, username: string): Promise<string> {
  const login = await (await fetch(`${authorize()}?${authorizeQuery(scope)}`)).text();
  const next = await post({ ...formFields(login), username, password: PASSWORD });
  expect(next.status).toBe(200);
  return next.text();
}

/** The text a person reads: tags gone (blocks apart, inline ones not), entities decoded, spaces collapsed. */
function visibleText(html: string): string {
  const body = /<body>([\s\S]*)<\/body>/.exec(html)?.[1] ?? html;
  const text = body
    .replace(/<\/?(strong|code|a|em|span)\b[^>]*>/g, '')
    .replace(/<[^>]+>/g, ' ').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return text.replace(/\s+/g, ' ').trim();
}

const radioLabels = (html: string) => [...html.matchAll(/<label for="patient-\d+">([^<]*)<\/label>/g)].map(([, label]) => label);
const consentItems = (html: string) => [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map(([, item]) => visibleText(item));

function pageLink(html: string, rel: 'prev' | 'next'): string | undefined {
  const href = new RegExp(`<a href="([^"]+)" rel="${rel}">`).exec(html)?.[1];
  return href?.replace(/&amp;/g, '&');
}

describe('the consent page', () => {
  it("names a practitioner's chosen patient by name and birth date, and speaks of that patient's records", async () => {
    const picker = await afterSignIn('openid fhirUser launch/patient patient/*.rs', practitioner);
    const consent = await post({ ...formFields(picker), patient: jane });
    const html = await consent.text();
    expect(formFields(html).step).toBe('consent');
    const text = visibleText(html);
    expect(text).toContain('Allow Test app to access the records of Jane Doe?');
    expect(text).toContain('Test app will access the records of Jane Doe, born 3 February 1980');
    expect(consentItems(html)).toContain('Read and search all Jane Doe’s records patient/*.rs');
    expect(text).not.toContain(`Patient/${jane}`);
    expect(text).not.toMatch(/your records/);
  });

  it('speaks to a patient of their own records', async () => {
    const html = await afterSignIn('openid fhirUser launch/patient patient/*.rs', patientUser);
    expect(formFields(html).step).toBe('consent');
    const text = visibleText(html);
    expect(text).toContain('Allow Test app to access your records?');
    expect(consentItems(html)).toContain('Read and search all your records patient/*.rs');
    expect(text).not.toContain('will access the records of');
  });

  it('lists each distinct permission once, however often and in whichever spelling it is asked for', async () => {
    const html = await afterSignIn('openid fhirUser profile patient/*.rs patient/*.read patient/*.rs patient/Observation.rs launch/patient', patientUser);
    expect(consentItems(html)).toEqual([
      'Know who you are openid fhirUser profile',
      'Read and search all your records patient/*.rs patient/*.read patient/Observation.rs',
      'Know which patient is selected launch/patient',
    ]);
  });
});

describe('the patient picker', () => {
  it('says how many match, pages through them keeping the search text, sorted by the name it shows', async () => {
    const first = await afterSignIn('launch/patient patient/*.rs', practitioner);
    expect(formFields(first).step).toBe('pick');
    // The search form, submitted as a browser does: a GET with the form's fields and the text typed.
    const searchForm = /<form method="get" action="([^"]+)" role="search">([\s\S]*?)<\/form>/.exec(first);
    const hidden = Object.fromEntries([...(searchForm?.[2] ?? '').matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(([, name, value]) => [name, value.replace(/&amp;/g, '&')]));
    const searched = await (await fetch(`${searchForm?.[1]}?${new URLSearchParams({ ...hidden, q: stem })}`)).text();
    expect(visibleText(searched)).toContain(`Patients 1–20 of 25 matching “${stem}”.`);
    expect(visibleText(searched)).toContain('Type more of the name to narrow the search');
    expect(radioLabels(searched)).toEqual(pickable.slice(0, 20));
    expect(pageLink(searched, 'prev')).toBeUndefined();

    const next = pageLink(searched, 'next');
    expect(new URL(next as string).searchParams.get('q')).toBe(stem);
    const second = await (await fetch(next as string)).text();
    expect(visibleText(second)).toContain(`Patients 21–25 of 25 matching “${stem}”.`);
    expect(radioLabels(second)).toEqual(pickable.slice(20));
    expect(pageLink(second, 'next')).toBeUndefined();
    expect(visibleText(second)).toContain('Previous patients (1–20)');

    const back = await (await fetch(pageLink(second, 'prev') as string)).text();
    expect(radioLabels(back)).toEqual(pickable.slice(0, 20));
    expect(visibleText(back)).toContain(`Patients 1–20 of 25 matching “${stem}”.`);

    // A page of patients still leads on to the consent page for the one chosen.
    const chosen = /<input type="radio" id="patient-0" name="patient" value="([^"]+)"/.exec(second)?.[1] as string;
    const consent = await (await post({ ...formFields(second), patient: chosen })).text();
    expect(visibleText(consent)).toContain(`Test app will access the records of Hal ${stem}b, born 19 August 1948.`);
  });

  it('counts the matches of a search that fits on one page, and starts again from a page that is not one', async () => {
    const first = await afterSignIn('launch/patient patient/*.rs', practitioner);
    const fields = formFields(first);
    const query = new URLSearchParams({ ...fields, q: `${stem}a` });
    const one = await (await fetch(`${authorize()}?${query}`)).text();
    expect(visibleText(one)).toContain(`13 patients match “${stem}a”.`);
    expect(one).not.toContain('<nav');
    query.set('page', 'not-a-page');
    query.set('first', '40');
    const fresh = await (await fetch(`${authorize()}?${query}`)).text();
    expect(visibleText(fresh)).toContain(`13 patients match “${stem}a”.`);
    expect(radioLabels(fresh)).toEqual(pickable.slice(0, 13));
  });
});

describe('a refused sign-in', () => {
  it('names the lock duration in the one answer for an unknown username, a wrong password and a locked account', async () => {
    const form = await signInForm(kiln, clientId);
    const known = await newUser(kiln, 'practitioner', 'Practitioner/sign-in-pages-2');
    const locked = await newUser(kiln, 'practitioner', 'Practitioner/sign-in-pages-3');
    for (let i = 0; i < MAX_FAILURES; i++) await postSignIn(kiln, form, locked.username, 'not the password at all');
    const unknown = `nobody-${stem}`;
    const answers = [
      [unknown, await postSignIn(kiln, form, unknown, 'not the password at all')],
      [known.username, await postSignIn(kiln, form, known.username, 'not the password at all')],
      [locked.username, await postSignIn(kiln, form, locked.username, PASSWORD)],
    ] as const;
    const pages = answers.map(([username, answer]) => answer.html.split(username).join('USERNAME'));
    expect(answers.map(([, answer]) => answer.status)).toEqual([401, 401, 401]);
    expect(pages[1]).toBe(pages[0]);
    expect(pages[2]).toBe(pages[0]);
    expect(visibleText(pages[0])).toContain(`The username or password is not right, or the account is locked for ${LOCK_MINUTES} minutes after too many attempts`);
  });
});

describe('a bare /auth/authorize', () => {
  it('names each parameter that is missing on its error page, and redirects nowhere', async () => {
    const bare = await fetch(authorize(), { redirect: 'manual' });
    expect(bare.status).toBe(400);
    expect(bare.headers.get('location')).toBeNull();
    const text = visibleText(await bare.text());
    for (const name of ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'aud', 'code_challenge', 'code_challenge_method']) expect(text).toContain(`${name}:`);
    expect(text).not.toMatch(/launch:|nonce:/);
  });

  it('names only what is missing when some parameters came', async () => {
    const partial = await fetch(`${authorize()}?${new URLSearchParams({ client_id: clientId, scope: 'user/*.rs', state: 'x' })}`, { redirect: 'manual' });
    expect(partial.status).toBe(400);
    const text = visibleText(await partial.text());
    for (const name of ['response_type', 'redirect_uri', 'aud', 'code_challenge', 'code_challenge_method']) expect(text).toContain(`${name}:`);
    for (const name of ['client_id', 'scope', 'state']) expect(text).not.toContain(`${name}:`);
  });
});
