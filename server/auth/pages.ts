// The HTML pages of the SMART on FHIR authorization server: sign-in, consent, patient picker and
// error. Plain server-rendered HTML5 that works without JavaScript (there is no <script> at all,
// so a strict CSP costs nothing) and needs no external resources; every dynamic value is escaped.
// Accessibility: one <h1>, every input has a <label for>, errors are role="alert" and linked to
// the inputs with aria-describedby, focus is always visible and colours meet WCAG AA contrast.

export interface HiddenFields {
  [name: string]: string;
}

export interface LoginPage {
  action: string;
  hidden: HiddenFields;
  clientName: string;
  username?: string;
  error?: string;
}

export interface ConsentPage {
  action: string;
  hidden: HiddenFields;
  clientName: string;
  userDisplay: string;
  /** Each requested scope with a human explanation, e.g. { scope: 'patient/Observation.rs', text: 'Read and search your observations' } */
  scopes: { scope: string; text: string }[];
  /** The patient the app will see, when there is one. */
  patientDisplay?: string;
}

export interface PatientPickerPage {
  action: string;
  hidden: HiddenFields;
  clientName: string;
  patients: { id: string; display: string }[];
  query?: string;
  searchAction: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe both between tags and inside a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// Contrast on white: text #1b1b1b 17:1, muted #4a4a4a 8.9:1, blue #1d4ed8 6.7:1,
// error #991b1b on #fef2f2 7.6:1; the focus ring is 3px so it shows on any control.
const STYLE = `
body{font:1rem/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fff;margin:0}
main{max-width:32rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}
label,legend{display:block;font-weight:600;margin-top:1rem}
input[type=text],input[type=password],input[type=search]{display:block;width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #4a4a4a;border-radius:4px}
fieldset{border:1px solid #4a4a4a;border-radius:4px;margin:1rem 0}
fieldset label{display:inline;font-weight:normal;margin:0}
ul{padding-left:1.25rem}
li{margin:.25rem 0}
code,.muted{color:#4a4a4a}
button{font:inherit;padding:.5rem 1.25rem;margin:1rem .5rem 0 0;border:2px solid #1d4ed8;border-radius:4px;background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d4ed8}
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
button:focus-visible{outline-color:#1b1b1b}
.error{color:#991b1b;background:#fef2f2;border:1px solid #991b1b;border-radius:4px;padding:.5rem .75rem}
`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – Kiln</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function hiddenInputs(hidden: HiddenFields): string {
  return Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
}

export function loginPage(page: LoginPage): string {
  const client = escapeHtml(page.clientName);
  // The error is announced and tied to both fields, since either may be the wrong one.
  const error = page.error ? `<p id="login-error" class="error" role="alert">${escapeHtml(page.error)}</p>\n` : '';
  const invalid = page.error ? ' aria-invalid="true" aria-describedby="login-error"' : '';
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p><strong>${client}</strong> wants to use your health records. Sign in to continue.</p>
${error}<form method="post" action="${escapeHtml(page.action)}">
${hiddenInputs(page.hidden)}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(page.username ?? '')}" autocomplete="username" autocapitalize="none" spellcheck="false" required${invalid}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${invalid}>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function consentPage(page: ConsentPage): string {
  const client = escapeHtml(page.clientName);
  const patient = page.patientDisplay
    ? `<p>The app will see the records of <strong>${escapeHtml(page.patientDisplay)}</strong>.</p>\n`
    : '';
  const scopes = page.scopes
    .map(({ scope, text }) => `<li>${escapeHtml(text)} <code>${escapeHtml(scope)}</code></li>`)
    .join('\n');
  return layout(
    'Allow access',
    `<h1>Allow ${client} to access your records?</h1>
<p class="muted">Signed in as ${escapeHtml(page.userDisplay)}</p>
${patient}<p id="scopes-intro">${client} asks to:</p>
<ul aria-labelledby="scopes-intro">
${scopes}
</ul>
<form method="post" action="${escapeHtml(page.action)}">
${hiddenInputs(page.hidden)}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export function patientPickerPage(page: PatientPickerPage): string {
  // The search box supplies q itself; a hidden q would send it twice.
  const searchHidden = Object.fromEntries(Object.entries(page.hidden).filter(([name]) => name !== 'q'));
  const choices = page.patients
    .map(
      ({ id, display }, i) =>
        // Ids by position: a patient id is not guaranteed to be a valid, unique HTML id.
        `<div><input type="radio" id="patient-${i}" name="patient" value="${escapeHtml(id)}"${i === 0 ? ' required' : ''}> ` +
        `<label for="patient-${i}">${escapeHtml(display)}</label></div>`,
    )
    .join('\n');
  const list = page.patients.length
    ? `<form method="post" action="${escapeHtml(page.action)}">
${hiddenInputs(page.hidden)}
<fieldset>
<legend>Patients</legend>
${choices}
</fieldset>
<button type="submit">Continue</button>
</form>`
    : `<p role="status">No patients found${page.query ? ` for “${escapeHtml(page.query)}”` : ''}.</p>`;
  return layout(
    'Choose a patient',
    `<h1>Choose a patient</h1>
<p><strong>${escapeHtml(page.clientName)}</strong> will see the records of the patient you choose.</p>
<form method="get" action="${escapeHtml(page.searchAction)}" role="search">
${hiddenInputs(searchHidden)}
<label for="q">Search patients by name</label>
<input type="search" id="q" name="q" value="${escapeHtml(page.query ?? '')}">
<button type="submit" class="secondary">Search</button>
</form>
${list}`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p class="error" role="alert">${escapeHtml(message)}</p>`);
}

// Maps, not object literals: a scope such as "constructor" must not find Object.prototype's.
const SPECIAL_SCOPES = new Map([
  ['openid', 'Know who you are'],
  ['fhirUser', 'Know who you are'],
  ['offline_access', 'Keep access when you are not using the app'],
  ['online_access', 'Keep access while you are using the app'],
  ['launch/patient', 'Know which patient is selected'],
  ['launch/encounter', 'Know which encounter is selected'],
]);

// SMART v1 suffixes as their v2 equivalents (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
const V1_ACTIONS = new Map([
  ['read', 'rs'],
  ['write', 'cud'],
  ['*', 'cruds'],
]);
const VERBS = new Map([
  ['c', 'create'],
  ['r', 'read'],
  ['u', 'update'],
  ['d', 'delete'],
  ['s', 'search'],
]);

function joinWords(words: string[]): string {
  return words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}` : words[0];
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** A human explanation of one SMART scope string; an unrecognised scope is returned unchanged. */
export function describeScope(scope: string): string {
  const special = SPECIAL_SCOPES.get(scope);
  if (special) return special;
  const match = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]*)\.([^?]+)(?:\?(.+))?$/.exec(scope);
  if (!match) return scope;
  const [, context, type, action, filter] = match;
  const letters = V1_ACTIONS.get(action) ?? action;
  // v2 requires the letters in c r u d s order, each at most once.
  if (!/^c?r?u?d?s?$/.test(letters)) return scope;
  const verbs = joinWords([...letters].map((l) => VERBS.get(l)!));
  const all = type === '*';
  const records =
    context === 'patient'
      ? `${all ? 'all your' : `your ${type}`} records`
      : `${all ? 'all' : type} records ${context === 'user' ? 'you can access' : 'on this server'}`;
  const where = filter ? ` (only where ${filter.split('&').map(decode).join(' and ')})` : '';
  return `${verbs[0].toUpperCase()}${verbs.slice(1)} ${records}${where}`;
}
