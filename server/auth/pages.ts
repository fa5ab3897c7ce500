// The HTML pages of the SMART on FHIR authorization server: sign-in, consent, patient picker and
// error. Plain server-rendered HTML5 that works without JavaScript (there is no <script> at all,
// so a strict CSP costs nothing) and needs no external resources; every dynamic value is escaped.
// Accessibility: one <h1>, every input has a <label for>, errors are role="alert" and linked to
// the inputs with aria-describedby, focus is always visible and colours meet WCAG AA contrast.
import type { Patient } from '@medplum/fhirtypes';
import { parseScopes, type ResourceScope } from './scopes.js';

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

/** What the pages show of a Patient resource. */
export type PatientSummary = Pick<Patient, 'name' | 'birthDate'> & { id: string };

/**
 * Whose records the app will see: a patient's own, signing in for themselves; the patient a
 * practitioner chose or an EHR launched with; or nobody's in particular, when the app acts for
 * the signed-in user with user/ scopes alone.
 */
export type ConsentRecords = { kind: 'own' } | { kind: 'patient'; patient: PatientSummary } | { kind: 'none' };

export interface ConsentPage {
  action: string;
  hidden: HiddenFields;
  clientName: string;
  userDisplay: string;
  /** The scopes the app asks for, as it wrote them (repeats and all). */
  scopes: string[];
  records: ConsentRecords;
}

export interface PatientPickerPage {
  action: string;
  hidden: HiddenFields;
  clientName: string;
  /** One page of the matches, in the order shown. */
  patients: PatientSummary[];
  query?: string;
  searchAction: string;
  /** How many patients match in all, and the position (from 1) of the first one on this page. */
  total: number;
  first: number;
  pageSize: number;
  /** The `_page` cursors of the pages before and after this one, when there are such pages. */
  previous?: string;
  next?: string;
}

/** A parameter an authorization request lacks, and what the app sends it for. */
export interface MissingParameter {
  name: string;
  purpose: string;
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
a{color:#1d4ed8}
nav{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
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
<p><strong>${client}</strong> wants to access health records with your account. Sign in to continue.</p>
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

/** The one answer to an unknown username, a wrong password and a locked account, naming the lock's length. */
export function loginRefusedMessage(lockMinutes: number): string {
  return `The username or password is not right, or the account is locked for ${duration(lockMinutes)} after too many attempts; check them, or try again later.`;
}

function duration(minutes: number): string {
  const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return [hours ? count(hours, 'hour') : '', rest ? count(rest, 'minute') : ''].filter(Boolean).join(' and ');
}

export function consentPage(page: ConsentPage): string {
  const client = escapeHtml(page.clientName);
  const { records } = page;
  // Whose records the heading asks about, whose records the scopes reach, and who the patient is.
  let whose = 'records on your behalf';
  let owner = 'the patient’s';
  let patient = '';
  if (records.kind === 'own') {
    whose = 'your records';
    owner = 'your';
  } else if (records.kind === 'patient') {
    const name = patientName(records.patient, 'given first');
    const named = escapeHtml(name ?? `the patient with id ${records.patient.id}`);
    const born = records.patient.birthDate ? `, born ${escapeHtml(birthDateText(records.patient.birthDate))}` : '';
    whose = `the records of ${named}`;
    owner = name ? `${name}’s` : 'this patient’s';
    patient = `<p>${client} will access the records of <strong>${named}</strong>${born}.</p>\n`;
  }
  const permissions = describePermissions(page.scopes, owner)
    .map(({ text, scopes }) => `<li>${escapeHtml(text)} ${scopes.map((scope) => `<code>${escapeHtml(scope)}</code>`).join(' ')}</li>`)
    .join('\n');
  return layout(
    'Allow access',
    `<h1>Allow ${client} to access ${whose}?</h1>
<p class="muted">Signed in as ${escapeHtml(page.userDisplay)}</p>
${patient}<p id="scopes-intro">${client} asks to:</p>
<ul aria-labelledby="scopes-intro">
${permissions}
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
  const query = page.query ? `“${escapeHtml(page.query)}”` : '';
  const shown = page.patients.length;
  const last = page.first + shown - 1;
  const paged = shown < page.total || page.previous !== undefined || page.next !== undefined;
  const count = paged
    ? `Patients ${page.first}–${last} of ${page.total}${query ? ` matching ${query}` : ''}.`
    : `${page.total} ${page.total === 1 ? 'patient' : 'patients'}${query ? ` ${page.total === 1 ? 'matches' : 'match'} ${query}` : ''}.`;
  // Other pages are plain links that repeat the search form's fields, the search text included.
  const pageLink = (cursor: string, first: number, rel: 'prev' | 'next', text: string) => {
    const href = `${page.searchAction}?${new URLSearchParams({ ...searchHidden, ...(page.query ? { q: page.query } : {}), page: cursor, first: String(first) })}`;
    const to = Math.min(first + page.pageSize - 1, page.total);
    return `<a href="${escapeHtml(href)}" rel="${rel}">${text} (${first}–${to})</a>`;
  };
  const links = [
    page.previous !== undefined ? pageLink(page.previous, Math.max(1, page.first - page.pageSize), 'prev', 'Previous patients') : '',
    page.next !== undefined ? pageLink(page.next, last + 1, 'next', 'Next patients') : '',
  ].filter(Boolean);
  const paging = paged
    ? `<p>Not in the list? Type more of the name to narrow the search, or go to another page.</p>\n${links.length ? `<nav aria-label="Pages of patients">\n${links.join('\n')}\n</nav>\n` : ''}`
    : '';
  const choices = page.patients
    .map((patient, i) => {
      const name = patientName(patient, 'family first') ?? '(no name)';
      const born = patient.birthDate ? ` — born ${birthDateText(patient.birthDate)}` : '';
      // Ids by position: a patient id is not guaranteed to be a valid, unique HTML id.
      return (
        `<div><input type="radio" id="patient-${i}" name="patient" value="${escapeHtml(patient.id)}"${i === 0 ? ' required' : ''}> ` +
        `<label for="patient-${i}">${escapeHtml(name + born)}</label></div>`
      );
    })
    .join('\n');
  const list = shown
    ? `<p id="match-count" role="status">${count}</p>
<form method="post" action="${escapeHtml(page.action)}">
${hiddenInputs(page.hidden)}
<fieldset aria-describedby="match-count">
<legend>Patients</legend>
${choices}
</fieldset>
<button type="submit">Continue</button>
</form>
${paging}`
    : `<p role="status">No patients found${query ? ` for ${query}` : ''}.</p>`;
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

/** An error page; `missing` lists the parameters a request lacks, each with what it is for. */
export function errorPage(title: string, message: string, missing: readonly MissingParameter[] = []): string {
  const heading = `<h1>${escapeHtml(title)}</h1>\n`;
  if (!missing.length) return layout(title, `${heading}<p class="error" role="alert">${escapeHtml(message)}</p>`);
  const items = missing.map(({ name, purpose }) => `<li><code>${escapeHtml(name)}</code>: ${escapeHtml(purpose)}</li>`).join('\n');
  return layout(title, `${heading}<p class="error" role="alert" id="error-message">${escapeHtml(message)}</p>\n<ul aria-labelledby="error-message">\n${items}\n</ul>`);
}

/**
 * A patient's name as people read it: the official name, else the usual one, else the first that
 * is neither old nor maiden. `family first` is how the picker lists and sorts patients; `given
 * first` prefers the name's own text. Undefined when the patient has no name at all.
 */
export function patientName(patient: PatientSummary, order: 'given first' | 'family first'): string | undefined {
  const names = patient.name ?? [];
  const name = names.find((n) => n.use === 'official') ?? names.find((n) => n.use === 'usual') ?? names.find((n) => n.use !== 'old' && n.use !== 'maiden') ?? names[0];
  if (!name) return undefined;
  const text = name.text?.trim();
  if (order === 'given first' && text) return text;
  const given = (name.given ?? []).join(' ').trim();
  const family = name.family?.trim() ?? '';
  const parts = order === 'family first' ? [family, given].filter(Boolean).join(', ') : [given, family].filter(Boolean).join(' ');
  return parts || text || undefined;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** A FHIR date in words at the precision it has ("3 February 1980", "February 1980", "1980"); anything else as it is. */
export function birthDateText(date: string): string {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(date);
  if (!match) return date;
  const [, year, month, day] = match;
  if (!month) return year;
  const monthName = MONTHS[Number(month) - 1];
  if (!monthName || (day !== undefined && (Number(day) < 1 || Number(day) > 31))) return date;
  return day === undefined ? `${monthName} ${year}` : `${Number(day)} ${monthName} ${year}`;
}

// Maps, not object literals: a scope such as "constructor" must not find Object.prototype's.
const SPECIAL_SCOPES = new Map([
  ['openid', 'Know who you are'],
  ['fhirUser', 'Know who you are'],
  ['profile', 'Know who you are'],
  ['launch', 'Know the patient and encounter open in the EHR that launched it'],
  ['offline_access', 'Keep access when you are not using the app'],
  ['online_access', 'Keep access while you are using the app'],
  ['launch/patient', 'Know which patient is selected'],
  ['launch/encounter', 'Know which encounter is selected'],
]);

// SMART v1 suffixes as their v2 equivalents (hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).
const V1_ACTIONS = new Map([['read', 'rs'], ['write', 'cud'], ['*', 'cruds']]);
const VERBS = new Map([['c', 'create'], ['r', 'read'], ['u', 'update'], ['d', 'delete'], ['s', 'search']]);

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

/**
 * A human explanation of one SMART scope string; an unrecognised scope is returned unchanged.
 * `owner` is whose records patient/ scopes reach: "your", or a possessive such as "Jane Doe’s".
 */
export function describeScope(scope: string, owner = 'your'): string {
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
      ? `${all ? `all ${owner}` : `${owner} ${type}`} records`
      : `${all ? 'all' : type} records ${context === 'user' ? 'you can access' : 'on this server'}`;
  const where = filter ? ` (only where ${filter.split('&').map(decode).join(' and ')})` : '';
  return `${verbs[0].toUpperCase()}${verbs.slice(1)} ${records}${where}`;
}

/** One permission of a consent page: what it allows, and every requested scope that asks for it. */
export interface PermissionLine {
  text: string;
  scopes: string[];
}

/**
 * Each distinct permission of the requested scopes once. A repeated scope, the v1 and v2 spellings
 * of one permission (`patient/*.read`, `patient/*.rs`), and a scope that a broader one asked for
 * too already allows (`patient/Observation.rs` beside `patient/*.rs`) join the line of that
 * broader one, which stands where the first of them stood; scopes of the same meaning (`openid`,
 * `fhirUser`) share a line.
 */
export function describePermissions(scopes: readonly string[], owner = 'your'): PermissionLine[] {
  const lines: PermissionLine[] = [];
  const byText = new Map<string, PermissionLine>();
  const resourceLines: { scope: ResourceScope; line: PermissionLine }[] = [];
  for (const word of new Set(scopes)) {
    const resource = parseScopes(word).resources[0];
    if (!resource) {
      const text = describeScope(word, owner);
      const same = byText.get(text);
      if (same) same.scopes.push(word);
      else {
        const line = { text, scopes: [word] };
        byText.set(text, line);
        lines.push(line);
      }
      continue;
    }
    const broader = resourceLines.find((kept) => covers(kept.scope, resource));
    if (broader) {
      broader.line.scopes.push(word);
      continue;
    }
    const line = { text: describeScope(word, owner), scopes: [word] };
    const narrower = resourceLines.filter((kept) => covers(resource, kept.scope));
    if (narrower.length) lines.splice(lines.indexOf(narrower[0].line), 1, line);
    else lines.push(line);
    for (const kept of narrower) {
      line.scopes.push(...kept.line.scopes);
      if (kept !== narrower[0]) lines.splice(lines.indexOf(kept.line), 1);
      resourceLines.splice(resourceLines.indexOf(kept), 1);
    }
    resourceLines.push({ scope: resource, line });
  }
  return lines;
}

/**
 * Whether `broad` allows everything `narrow` does, by the rule scopes are granted by
 * (server/auth/scopes.ts): the same context, the same type or all types, at least the same
 * permissions, and no filter or the same one.
 */
function covers(broad: ResourceScope, narrow: ResourceScope): boolean {
  if (broad.context !== narrow.context) return false;
  if (broad.resourceType !== '*' && broad.resourceType !== narrow.resourceType) return false;
  if (![...narrow.permissions].every((permission) => broad.permissions.has(permission))) return false;
  const filterKey = (filter: readonly [string, string][]) => filter.map((pair) => JSON.stringify(pair)).sort().join('&');
  return broad.filter.length === 0 || filterKey(broad.filter) === filterKey(narrow.filter);
}
