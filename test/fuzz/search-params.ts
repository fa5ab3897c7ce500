// Search parameters for the fuzz suite (hl7.org/fhir/R4/search.html): real and unknown names, every
// modifier and prefix, chains and _has, result parameters, and values from plausible to hostile.
import fc from 'fast-check';
import { encode, oddString, pageToken, RESOURCE_TYPES } from './values.js';

const NAMES = [
  'name', 'family', 'given', 'identifier', 'gender', 'birthdate', 'address', 'telecom', 'organization', 'general-practitioner', 'link',
  'subject', 'patient', 'code', 'date', 'value-quantity', 'code-value-quantity', 'component-code-value-quantity', 'status', 'category', 'has-member',
  'url', 'near', 'item', 'encounter', 'performer', 'near-distance', 'unknown-param',
  '_id', '_lastUpdated', '_tag', '_profile', '_security', '_source', '_list', '_content', '_text', '_has', '_filter', '_query',
];
const RESULT = ['_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_page', '_format', '_pretty', '_contained', '_containedType', '_type', '_since', '_at'];
const MODIFIERS = ['', ':exact', ':contains', ':missing', ':not', ':text', ':in', ':not-in', ':below', ':above', ':of-type', ':identifier', ':Patient', ':Organization', ':iterate', ':recurse', ':nope', ':exact:contains'];
const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx'];

const plausibleValue = fc.oneof(
  fc.constantFrom('smith', 'http://loinc.org|8867-4', '|male', 'http://hl7.org/fhir/sid/us-ssn|', 'Patient/fuzz-1', 'fuzz-1', 'true', 'false', '*', 'Observation:subject', 'Patient:general-practitioner:Practitioner'),
  fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom('2020', '2020-01', '2020-01-01', '2020-01-01T10:00:00Z', '2020-01-01T10:00', '100', '5.4|http://unitsofmeasure.org|mg', '1e5', '-3', '72||bpm')).map(([p, v]) => `${p}${v}`),
  fc.tuple(fc.constantFrom('http://loinc.org|8480-6', 'x'), fc.constantFrom('$gt100', '$', '$$', '$lt5|http://unitsofmeasure.org|mm[Hg]')).map(([a, b]) => `${a}${b}`),
  fc.constantFrom('42.3|-71.1|10|km', '0|0|0', '91|181|1|mi', 'name,family', 'id,-_lastUpdated', 'count', 'accurate', 'estimate', 'text', 'data', 'container', 'both'),
);

const value = fc.oneof({ weight: 3, arbitrary: plausibleValue }, { weight: 2, arbitrary: oddString }, { weight: 1, arbitrary: fc.array(oddString, { maxLength: 4 }).map((parts) => parts.join(',')) });

const name = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...MODIFIERS)).map(([n, m]) => `${n}${m}`) },
  { weight: 2, arbitrary: fc.constantFrom(...RESULT) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('subject', 'patient', 'general-practitioner'), fc.constantFrom('', ':Patient', ':Nope'), fc.constantFrom('name', 'identifier', 'organization.name', 'x')).map(([a, b, c]) => `${a}${b}.${c}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...RESOURCE_TYPES, 'Nope'), fc.constantFrom('subject', 'patient', 'x'), fc.constantFrom('code', '_id', '_has:Observation:subject:code')).map(([t, r, p]) => `_has:${t}:${r}:${p}`) },
  { weight: 1, arbitrary: oddString },
);

/** One `name=value` pair, already percent-encoded; sometimes a raw `%00`, a lone `=` or a `_page` cursor. */
const pair = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(name, value).map(([n, v]) => `${encode(n, /[A-Za-z0-9\-._~:]/)}=${encode(v, /[A-Za-z0-9\-._~|,$]/)}`) },
  { weight: 1, arbitrary: pageToken.map((token) => `_page=${token}`) },
  { weight: 1, arbitrary: fc.constantFrom('=', '&&', 'name', 'name=%00', '%00=x', 'name=%E0%A4%A', '_count=1e3', '_count=-1', '_count=99999999', 'name=a&name=b&name=c') },
);

/** A query string, without `?`. */
export const query: fc.Arbitrary<string> = fc.array(pair, { minLength: 0, maxLength: 5 }).map((pairs) => pairs.join('&'));
