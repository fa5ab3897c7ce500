import { consentPage, describeScope, errorPage, escapeHtml, loginPage, patientPickerPage } from './pages.js';

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
  const html = consentPage({
    action: '/auth/consent',
    hidden,
    clientName: EVIL,
    userDisplay: 'Dr <Who>',
    scopes: [
      { scope: 'patient/Observation.rs', text: 'Read and search your observations' },
      { scope: 'launch/patient', text: 'Know <which> patient is selected' },
    ],
    patientDisplay: 'Alice & Bob',
  });

  it('is accessible, escaped and carries the hidden fields', () => {
    expectAccessible(html);
    expect(html).toContain(EVIL_ESCAPED);
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('Dr &lt;Who&gt;');
    expect(html).toContain('<strong>Alice &amp; Bob</strong>');
    expect(html).toContain('<form method="post" action="/auth/consent">');
    expectHidden(html);
  });

  it('lists each scope with its explanation', () => {
    expect(html).toContain('<li>Read and search your observations <code>patient/Observation.rs</code></li>');
    expect(html).toContain('<li>Know &lt;which&gt; patient is selected <code>launch/patient</code></li>');
    expect(html.match(/<li>/g)).toHaveLength(2);
  });

  it('offers allow and deny as two submit buttons of one decision', () => {
    expect(html).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
    expect(html).toContain('<button type="submit" name="decision" value="deny" class="secondary">Deny</button>');
  });

  it('says nothing of a patient when there is none', () => {
    const noPatient = consentPage({ action: '/c', hidden: {}, clientName: 'App', userDisplay: 'Bob', scopes: [] });
    expect(noPatient).not.toContain('will see the records of');
  });
});

describe('patientPickerPage', () => {
  const html = patientPickerPage({
    action: '/auth/patient',
    searchAction: '/auth/patient/search',
    hidden: { ...hidden, q: 'stale' },
    clientName: EVIL,
    query: 'sm"ith',
    patients: [
      { id: 'p1', display: 'Smith, Ann' },
      { id: 'p"2', display: 'Smith <Joe>' },
    ],
  });

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

  it('lists the patients as labelled radios in a fieldset with a legend', () => {
    expect(html).toContain('<form method="post" action="/auth/patient">');
    expect(html).toMatch(/<fieldset>\n<legend>Patients<\/legend>/);
    expect(html).toContain('<input type="radio" id="patient-0" name="patient" value="p1" required>');
    expect(html).toContain('<label for="patient-0">Smith, Ann</label>');
    expect(html).toContain('<input type="radio" id="patient-1" name="patient" value="p&quot;2">');
    expect(html).toContain('<label for="patient-1">Smith &lt;Joe&gt;</label>');
    expect(html).toContain('<button type="submit">Continue</button>');
  });

  it('says so when no patient matches, without an empty choice', () => {
    const none = patientPickerPage({ action: '/a', searchAction: '/s', hidden: {}, clientName: 'App', patients: [], query: '<x>' });
    expectAccessible(none);
    expect(none).toContain('No patients found for “&lt;x&gt;”.');
    expect(none).not.toContain('<fieldset>');
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
    expect(describeScope('offline_access')).toBe('Keep access when you are not using the app');
    expect(describeScope('launch/patient')).toBe('Know which patient is selected');
  });

  it('returns anything it does not understand unchanged', () => {
    const unknown = ['launch', 'profile', 'constructor', '', 'patient/Observation', 'group/Observation.rs'];
    // v2 letters out of order or repeated, and a lower-case resource type, are not valid scopes.
    unknown.push('patient/Observation.sr', 'patient/Observation.rr', 'patient/observation.rs');
    for (const scope of unknown) expect(describeScope(scope)).toBe(scope);
  });
});
