import { birthDateText, consentPage, describePermissions, describeScope, errorPage, escapeHtml, loginPage, loginRefusedMessage, patientName, patientPickerPage, type ConsentPage } from './pages.js';

const EVIL = `<script>alert("x")</script>&'`;
const EVIL_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;';
const hidden = { client_id: 'app"1', state: `a<b>&'c` };

/** Checks every page shares: one h1, lang, title, inline style only, no script, labels tied to inputs. */
function expectAccessible(html: string): void {
  expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  expect(html).toContain('<html lang="en">');
  expect(html).toMatch(/<title>[^<]+<\/title>/);
  expect(html.match(/<h1>/g)).toHaveLength(1);
  expect(html).toContain('<style>');
  expect(html).toContain(':focus-visible{outline:3px');
  expect(html.toLowerCase()).not.toContain('<script');
  expect(html).not.toMatch(/<link|src=|https?:\/\//);
  for (const [, type, id] of html.matchAll(/<input type="(\w+)" id="([^"]+)"/g)) {
    expect(type).not.toBe('hidden');
    expect(html).toContain(`<label for="${id}">`);
  }
  // Every visible input has an id (and so, by the loop above, a label).
  for (const [input] of html.matchAll(/<input [^>]*>/g)) {
    if (!input.includes('type="hidden"')) expect(input).toMatch(/ id="/);
  }
}

function expectHidden(html: string, count = 1): void {
  const client = '<input type="hidden" name="client_id" value="app&quot;1">';
  const state = '<input type="hidden" name="state" value="a&lt;b&gt;&amp;&#39;c">';
  expect(html.split(client)).toHaveLength(count + 1);
  expect(html.split(state)).toHaveLength(count + 1);
}

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and quoted attributes', () => {
    expect(escapeHtml(`<>&"'`)).toBe('&lt;&gt;&amp;&quot;&#39;');
    expect(escapeHtml('&amp;')).toBe('&amp;amp;');
    expect(escapeHtml('plain text')).toBe('plain text');
  });
});

describe('loginPage', () => {
  const html = loginPage({ action: '/auth/login?x="1"', hidden, clientName: EVIL, username: `bob"><b>` });

  it('is accessible, escapes every dynamic value and carries the hidden fields', () => {
    expectAccessible(html);
    expect(html).toContain(EVIL_ESCAPED);
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('<form method="post" action="/auth/login?x=&quot;1&quot;">');
    expectHidden(html);
    expect(html).toContain('value="bob&quot;&gt;&lt;b&gt;"');
  });

  it('has labelled username and password fields and a Sign in button', () => {
    expect(html).toContain('<label for="username">Username</label>');
    expect(html).toMatch(/<input type="text" id="username" name="username"/);
    expect(html).toContain('<label for="password">Password</label>');
    expect(html).toMatch(/<input type="password" id="password" name="password" autocomplete="current-password"/);
    expect(html).toContain('<button type="submit">Sign in</button>');
    expect(html).not.toContain('role="alert"');
    expect(html).not.toContain('aria-invalid');
  });

  it('announces an error and links it to both fields', () => {
    const failed = loginPage({ action: '/login', hidden: {}, clientName: 'App', error: 'Wrong <password>' });
    expectAccessible(failed);
    expect(failed).toContain('<p id="login-error" class="error" role="alert">Wrong &lt;password&gt;</p>');
    expect(failed.match(/aria-describedby="login-error"/g)).toHaveLength(2);
    expect(failed).toContain('value=""');
  });
});

describe('consentPage', () => {
  const jane = { id: 'p1', name: [{ family: 'Doe', given: ['Jane'] }], birthDate: '1980-02-03' };
  const page = (records: ConsentPage['records'], scopes = ['launch/patient', 'patient/Observation.rs']) =>
    consentPage({ action: '/auth/consent', hidden, clientName: EVIL, userDisplay: 'Dr <Who>', scopes, records });
  const html = page({ kind: 'patient', patient: { id: 'p1', name: [{ text: 'Alice & Bob' }] } });

  it('is accessible, escaped and carries the hidden fields', () => {
    expectAccessible(html);
    expect(html).toContain(EVIL_ESCAPED);
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Dr &lt;Who&gt;');
    expect(html).toContain('<strong>Alice &amp; Bob</strong>');
    expect(html).toContain('<form method="post" action="/auth/consent">');
    expectHidden(html);
  });

  it('lists each permission with its explanation and the scopes it comes from', () => {
    expect(html).toContain('<li>Know which patient is selected <code>launch/patient</code></li>');
    expect(html).toContain('<li>Read and search Alice &amp; Bob’s Observation records <code>patient/Observation.rs</code></li>');
    expect(html.match(/<li>/g)).toHaveLength(2);
  });

  it('offers allow and deny as two submit buttons of one decision', () => {
    expect(html).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
    expect(html).toContain('<button type="submit" name="decision" value="deny" class="secondary">Deny</button>');
  });

  it("names a practitioner's chosen patient by name and birth date, and speaks of that patient's records", () => {
    const named = page({ kind: 'patient', patient: jane }, ['patient/*.rs']);
    expectAccessible(named);
    expect(named).toContain(`<h1>Allow ${EVIL_ESCAPED} to access the records of Jane Doe?</h1>`);
    expect(named).toContain('will access the records of <strong>Jane Doe</strong>, born 3 February 1980.');
    expect(named).toContain('<li>Read and search all Jane Doe’s records <code>patient/*.rs</code></li>');
    expect(named).not.toMatch(/your records|Patient\/p1/);
  });

  it('speaks to a patient of their own records', () => {
    const own = page({ kind: 'own' }, ['patient/*.rs']);
    expectAccessible(own);
    expect(own).toContain(`<h1>Allow ${EVIL_ESCAPED} to access your records?</h1>`);
    expect(own).toContain('<li>Read and search all your records <code>patient/*.rs</code></li>');
    expect(own).not.toContain('will access the records of');
  });

  it('speaks of records on the user’s behalf when no patient is chosen', () => {
    const none = page({ kind: 'none' }, ['user/*.rs']);
    expect(none).toContain(`<h1>Allow ${EVIL_ESCAPED} to access records on your behalf?</h1>`);
    expect(none).toContain('<li>Read and search all records you can access <code>user/*.rs</code></li>');
    expect(none).not.toContain('will access the records of');
  });

  it('falls back to the id of a patient whose record has no name', () => {
    const nameless = page({ kind: 'patient', patient: { id: 'p-9' } }, ['patient/*.rs']);
    expect(nameless).toContain('to access the records of the patient with id p-9?</h1>');
    expect(nameless).toContain('will access the records of <strong>the patient with id p-9</strong>.');
    expect(nameless).toContain('<li>Read and search all this patient’s records <code>patient/*.rs</code></li>');
  });

  it('lists each distinct permission once, naming every scope behind it', () => {
    const many = page({ kind: 'own' }, ['openid', 'fhirUser', 'patient/*.rs', 'patient/*.read', 'patient/*.rs', 'patient/Observation.rs']);
    expect(many.match(/<li>/g)).toHaveLength(2);
    expect(many).toContain('<li>Know who you are <code>openid</code> <code>fhirUser</code></li>');
    expect(many).toContain('<li>Read and search all your records <code>patient/*.rs</code> <code>patient/*.read</code> <code>patient/Observation.rs</code></li>');
  });
});

describe('describePermissions', () => {
  const texts = (scopes: string[], owner?: string) => describePermissions(scopes, owner).map(({ text, scopes: from }) => `${text} [${from.join(' ')}]`);

  it('joins repeats and the v1 and v2 spellings of one permission', () => {
    expect(texts(['patient/*.rs', 'patient/*.read', 'patient/*.rs'])).toEqual(['Read and search all your records [patient/*.rs patient/*.read]']);
    expect(texts(['user/Patient.cud', 'user/Patient.write'])).toEqual(['Create, update and delete Patient records you can access [user/Patient.cud user/Patient.write]']);
    expect(texts(['openid', 'fhirUser', 'profile'])).toEqual(['Know who you are [openid fhirUser profile]']);
  });

  it('folds a scope into a broader one asked for too, before or after it', () => {
    expect(texts(['patient/Observation.rs', 'launch/patient', 'patient/*.cruds', 'patient/Condition.r?clinical-status=active'])).toEqual([
      'Create, read, update, delete and search all your records [patient/*.cruds patient/Observation.rs patient/Condition.r?clinical-status=active]',
      'Know which patient is selected [launch/patient]',
    ]);
    expect(texts(['patient/*.rs', 'patient/Observation.rs?category=laboratory'])).toEqual(['Read and search all your records [patient/*.rs patient/Observation.rs?category=laboratory]']);
  });

  it('keeps permissions that add something on lines of their own', () => {
    expect(texts(['patient/*.r', 'patient/Observation.rs', 'user/*.rs'])).toEqual([
      'Read all your records [patient/*.r]',
      'Read and search your Observation records [patient/Observation.rs]',
      'Read and search all records you can access [user/*.rs]',
    ]);
    // A filter narrows: the unfiltered scope is the broader one, never the other way round.
    expect(texts(['patient/Observation.rs?category=laboratory', 'patient/Observation.rs?category=vital-signs'])).toHaveLength(2);
  });

  it("speaks of another patient's records by that patient's name", () => {
    expect(texts(['patient/Observation.rs', 'user/*.rs'], 'Jane Doe’s')).toEqual([
      'Read and search Jane Doe’s Observation records [patient/Observation.rs]',
      'Read and search all records you can access [user/*.rs]',
    ]);
  });
});

describe('patientName and birthDateText', () => {
  it('reads the official name, else the usual one, else the first that is not old', () => {
    const names = [
      { use: 'old' as const, family: 'Old', given: ['Jane'] },
      { use: 'usual' as const, family: 'Doe', given: ['Janie'] },
      { use: 'official' as const, family: 'Doe', given: ['Jane', 'Mary'] },
    ];
    expect(patientName({ id: 'p', name: names }, 'given first')).toBe('Jane Mary Doe');
    expect(patientName({ id: 'p', name: names }, 'family first')).toBe('Doe, Jane Mary');
    expect(patientName({ id: 'p', name: names.slice(0, 2) }, 'given first')).toBe('Janie Doe');
    expect(patientName({ id: 'p', name: [names[0], { family: 'New' }] }, 'family first')).toBe('New');
  });

  it('uses the text of a name without parts, and answers undefined for no name', () => {
    expect(patientName({ id: 'p', name: [{ text: 'Madonna' }] }, 'family first')).toBe('Madonna');
    expect(patientName({ id: 'p', name: [{ text: 'Dr Jane Doe', family: 'Doe', given: ['Jane'] }] }, 'given first')).toBe('Dr Jane Doe');
    expect(patientName({ id: 'p', name: [{ text: 'Dr Jane Doe', family: 'Doe', given: ['Jane'] }] }, 'family first')).toBe('Doe, Jane');
    expect(patientName({ id: 'p' }, 'given first')).toBeUndefined();
    expect(patientName({ id: 'p', name: [{ use: 'official' }] }, 'given first')).toBeUndefined();
  });

  it('writes a birth date in words at the precision it has', () => {
    expect(birthDateText('1980-02-03')).toBe('3 February 1980');
    expect(birthDateText('1980-12')).toBe('December 1980');
    expect(birthDateText('1980')).toBe('1980');
    expect(birthDateText('1980-13-01')).toBe('1980-13-01');
  });
});

describe('patientPickerPage', () => {
  const patients = [
    { id: 'p1', name: [{ family: 'Smith', given: ['Ann'] }], birthDate: '1970-05-06' },
    { id: 'p"2', name: [{ text: 'Smith <Joe>' }] },
  ];
  const base = { action: '/auth/patient', searchAction: '/auth/patient/search', hidden: { ...hidden, q: 'stale' }, clientName: EVIL, query: 'sm"ith', pageSize: 2 };
  const html = patientPickerPage({ ...base, patients, total: 2, first: 1 });

  it('is accessible, escaped and carries the hidden fields in both forms', () => {
    expectAccessible(html);
    expect(html).toContain(EVIL_ESCAPED);
    expect(html).not.toContain('<script>alert');
    expectHidden(html, 2);
    // The search box supplies q, so a hidden q goes only with the POST form.
    expect(html.match(/name="q"/g)).toHaveLength(2);
  });

  it('has a GET search form with a labelled q box holding the query', () => {
    expect(html).toContain('<form method="get" action="/auth/patient/search" role="search">');
    expect(html).toContain('<label for="q">Search patients by name</label>');
    expect(html).toContain('<input type="search" id="q" name="q" value="sm&quot;ith">');
  });

  it('lists the patients family name first, with their birth dates, as labelled radios in a fieldset', () => {
    expect(html).toContain('<form method="post" action="/auth/patient">');
    expect(html).toMatch(/<fieldset aria-describedby="match-count">\n<legend>Patients<\/legend>/);
    expect(html).toContain('<input type="radio" id="patient-0" name="patient" value="p1" required>');
    expect(html).toContain('<label for="patient-0">Smith, Ann — born 6 May 1970</label>');
    expect(html).toContain('<input type="radio" id="patient-1" name="patient" value="p&quot;2">');
    expect(html).toContain('<label for="patient-1">Smith &lt;Joe&gt;</label>');
    expect(html).toContain('<button type="submit">Continue</button>');
  });

  it('says how many match when they all fit on the page, with no paging', () => {
    expect(html).toContain('<p id="match-count" role="status">2 patients match “sm&quot;ith”.</p>');
    expect(html).not.toContain('<nav');
    expect(html).not.toContain('narrow');
    const one = patientPickerPage({ ...base, query: '', patients: patients.slice(0, 1), total: 1, first: 1 });
    expect(one).toContain('<p id="match-count" role="status">1 patient.</p>');
  });

  it('pages through many matches, keeping the search text, and asks to narrow the search', () => {
    const middle = patientPickerPage({ ...base, patients, total: 7, first: 3, previous: 'cursor-before', next: 'cursor-after' });
    expectAccessible(middle);
    expect(middle).toContain('<p id="match-count" role="status">Patients 3–4 of 7 matching “sm&quot;ith”.</p>');
    expect(middle).toContain('Not in the list? Type more of the name to narrow the search, or go to another page.');
    const nav = /<nav aria-label="Pages of patients">([\s\S]*?)<\/nav>/.exec(middle)?.[1] ?? '';
    const links = [...nav.matchAll(/<a href="([^"]+)" rel="(prev|next)">([^<]+)<\/a>/g)].map(([, href, rel, text]) => ({ rel, text, url: new URL(href.replace(/&amp;/g, '&'), 'http://kiln') }));
    expect(links.map(({ rel, text }) => [rel, text])).toEqual([
      ['prev', 'Previous patients (1–2)'],
      ['next', 'Next patients (5–6)'],
    ]);
    for (const { url } of links) {
      expect(url.pathname).toBe('/auth/patient/search');
      expect(url.searchParams.getAll('q')).toEqual(['sm"ith']);
      expect(url.searchParams.get('client_id')).toBe('app"1');
      expect(url.searchParams.get('state')).toBe(`a<b>&'c`);
    }
    expect([links[0].url.searchParams.get('page'), links[0].url.searchParams.get('first')]).toEqual(['cursor-before', '1']);
    expect([links[1].url.searchParams.get('page'), links[1].url.searchParams.get('first')]).toEqual(['cursor-after', '5']);
    const last = patientPickerPage({ ...base, query: '', patients: patients.slice(0, 1), total: 7, first: 7, previous: 'cursor-before' });
    expect(last).toContain('Patients 7–7 of 7.');
    expect(last).toContain('rel="prev">Previous patients (5–6)</a>');
    expect(last).not.toContain('rel="next"');
  });

  it('says so when no patient matches, without an empty choice', () => {
    const none = patientPickerPage({ action: '/a', searchAction: '/s', hidden: {}, clientName: 'App', patients: [], query: '<x>', total: 0, first: 1, pageSize: 20 });
    expectAccessible(none);
    expect(none).toContain('No patients found for “&lt;x&gt;”.');
    expect(none).not.toContain('<fieldset');
    expect(none).not.toContain('Continue');
  });
});

describe('errorPage', () => {
  it('renders the title as the heading and the message as an alert, escaped', () => {
    const html = errorPage('Bad <request>', `Unknown client "${EVIL}"`);
    expectAccessible(html);
    expect(html).toContain('<title>Bad &lt;request&gt; – Kiln</title>');
    expect(html).toContain('<h1>Bad &lt;request&gt;</h1>');
    expect(html).toContain(`<p class="error" role="alert">Unknown client &quot;${EVIL_ESCAPED}&quot;</p>`);
    expect(html).not.toContain('<ul');
  });

  it('lists the missing parameters, each with what it is for', () => {
    const html = errorPage('Cannot go on', 'Parameters are missing.', [
      { name: 'client_id', purpose: 'which <app> asks' },
      { name: 'state', purpose: 'the app’s reference' },
    ]);
    expectAccessible(html);
    expect(html).toContain('<p class="error" role="alert" id="error-message">Parameters are missing.</p>\n<ul aria-labelledby="error-message">');
    expect(html).toContain('<li><code>client_id</code>: which &lt;app&gt; asks</li>');
    expect(html).toContain('<li><code>state</code>: the app’s reference</li>');
  });
});

describe('loginRefusedMessage', () => {
  it('names how long an account stays locked, in one message for every refusal', () => {
    expect(loginRefusedMessage(15)).toBe('The username or password is not right, or the account is locked for 15 minutes after too many attempts; check them, or try again later.');
    expect(loginRefusedMessage(1)).toContain('locked for 1 minute after');
    expect(loginRefusedMessage(60)).toContain('locked for 1 hour after');
    expect(loginRefusedMessage(150)).toContain('locked for 2 hours and 30 minutes after');
    expect(loginRefusedMessage(1440)).toContain('locked for 24 hours after');
  });
});

describe('describeScope', () => {
  it('explains v2 scopes letter by letter', () => {
    expect(describeScope('patient/Observation.rs')).toBe('Read and search your Observation records');
    expect(describeScope('user/*.cruds')).toBe('Create, read, update, delete and search all records you can access');
    expect(describeScope('patient/*.r')).toBe('Read all your records');
    expect(describeScope('user/Patient.cu')).toBe('Create and update Patient records you can access');
    expect(describeScope('system/Encounter.s')).toBe('Search Encounter records on this server');
  });

  it('explains v1 read, write and *', () => {
    expect(describeScope('patient/Observation.read')).toBe('Read and search your Observation records');
    expect(describeScope('user/Patient.write')).toBe('Create, update and delete Patient records you can access');
    expect(describeScope('patient/*.*')).toBe('Create, read, update, delete and search all your records');
  });

  it('mentions a filter', () => {
    expect(describeScope('patient/Observation.rs?category=laboratory')).toBe(
      'Read and search your Observation records (only where category=laboratory)',
    );
    expect(describeScope('user/Condition.rs?category=problem-list-item&clinical-status=active')).toBe(
      'Read and search Condition records you can access (only where category=problem-list-item and clinical-status=active)',
    );
    expect(describeScope('patient/Observation.rs?code=http%3A%2F%2Floinc.org%7C1234-5')).toBe(
      'Read and search your Observation records (only where code=http://loinc.org|1234-5)',
    );
  });

  it('explains the special scopes', () => {
    expect(describeScope('openid')).toBe('Know who you are');
    expect(describeScope('fhirUser')).toBe('Know who you are');
    expect(describeScope('profile')).toBe('Know who you are');
    expect(describeScope('launch')).toBe('Know the patient and encounter open in the EHR that launched it');
    expect(describeScope('offline_access')).toBe('Keep access when you are not using the app');
    expect(describeScope('launch/patient')).toBe('Know which patient is selected');
  });

  it('returns anything it does not understand unchanged', () => {
    const unknown = ['constructor', '', 'patient/Observation', 'group/Observation.rs'];
    // v2 letters out of order or repeated, and a lower-case resource type, are not valid scopes.
    unknown.push('patient/Observation.sr', 'patient/Observation.rr', 'patient/observation.rs');
    for (const scope of unknown) expect(describeScope(scope)).toBe(scope);
  });
});
