// Whole requests for the fuzz suite: a method, a path under /fhir (types, ids with odd characters,
// operations, history, compartments), a query, a body and odd headers (hl7.org/fhir/R4/http.html).
import fc from 'fast-check';
import { body, bundle, jsonPatch, resource } from './bodies.js';
import { query } from './search-params.js';
import { encode, id, oddString, resourceType } from './values.js';

const FHIR_JSON = 'application/fhir+json';

export interface FuzzRequest {
  method: string;
  /** Path and query, already percent-encoded. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const path = fc.oneof(
  { weight: 4, arbitrary: resourceType.map((t) => `/fhir/${encode(t)}`) },
  { weight: 4, arbitrary: fc.tuple(resourceType, id).map(([t, i]) => `/fhir/${encode(t)}/${encode(i)}`) },
  { weight: 1, arbitrary: fc.tuple(resourceType, id, fc.constantFrom('1', '2', '0', '-1', '1e300', '99999999999', 'x')).map(([t, i, v]) => `/fhir/${encode(t)}/${encode(i)}/_history/${v}`) },
  { weight: 1, arbitrary: fc.tuple(resourceType, fc.option(id)).map(([t, i]) => `/fhir/${encode(t)}${i === null ? '' : `/${encode(i)}`}/_history`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Patient', 'Encounter', 'Practitioner', 'Observation'), id, fc.constantFrom('Observation', '*', '$everything', 'Nope', 'Encounter')).map(([t, i, c]) => `/fhir/${t}/${encode(i)}/${encode(c)}`) },
  { weight: 1, arbitrary: resourceType.map((t) => `/fhir/${encode(t)}/_search`) },
  { weight: 1, arbitrary: fc.constantFrom('/fhir', '/fhir/', '/fhir/metadata', '/fhir/_history', '/fhir//Patient', '/fhir/Patient/', '/fhir/Patient/fuzz-1/', '/fhir/..%2F..%2Fetc', '/FHIR/Patient', '/fhir/Patient/fuzz-1/_history/1/extra') },
  { weight: 1, arbitrary: fc.array(oddString, { minLength: 1, maxLength: 5 }).map((parts) => `/fhir/${parts.map((p) => encode(p)).join('/')}`) },
);

// Mostly what Kiln reads and writes, so that most requests get past content negotiation to the
// interactions themselves; the rest are odd.
const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('application/fhir+json', 'application/json', 'application/fhir+json; charset=utf-8') },
  { weight: 3, arbitrary: fc.constant('application/json-patch+json') },
  { weight: 1, arbitrary: fc.constant('application/x-www-form-urlencoded') },
  { weight: 2, arbitrary: fc.constantFrom('application/fhir+json; charset=latin1', 'text/plain', 'application/fhir+xml', 'multipart/form-data; boundary=x', '*/*', 'garbage', '') },
);
const accept = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('application/fhir+json', 'application/json', '*/*', 'application/*', 'image/*, */*;q=0.1') },
  { weight: 1, arbitrary: fc.constantFrom('application/fhir+xml', 'text/html', 'application/fhir+json;q=0', ';;;') },
);

/** Printable Latin-1 only: what an HTTP client can put in a header at all. */
const headerText = oddString.map((s) => s.replace(/[^\x20-\x7e]/g, '?'));

/** A few odd headers at a time, so that each one gets its say instead of another failing first. */
const headers = fc
  .tuple(
    contentType,
    fc.array(
      fc.oneof(
        accept.map((v) => ['accept', v]),
        fc.oneof(fc.constantFrom('W/"1"', '"1"', '*', 'W/"abc"', 'W/', '1', '"'), headerText).map((v) => ['if-match', v]),
        fc.oneof(fc.constantFrom('W/"1"', '*'), headerText).map((v) => ['if-none-match', v]),
        fc.oneof(query, headerText).map((v) => ['if-none-exist', v]),
        fc.oneof(fc.constantFrom('Wed, 21 Oct 2015 07:28:00 GMT', 'yesterday'), headerText).map((v) => ['if-modified-since', v]),
        fc.oneof(fc.constantFrom('return=minimal', 'return=representation', 'return=OperationOutcome', 'return=everything', 'handling=lenient', 'handling=strict', 'respond-async'), headerText).map((v) => ['prefer', v]),
        fc.constantFrom('100-continue', 'the-unexpected').map((v) => ['expect', v]),
        headerText.map((v) => ['x-request-id', v]),
      ),
      { maxLength: 2 },
    ),
  )
  .map(([type, more]) => Object.fromEntries([['content-type', type], ...more]) as Record<string, string>);

const anyRequest = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
    path,
    query: fc.option(query, { freq: 2 }),
    headers,
    body,
  })
  .map(({ method, path: p, query: q, headers: h, body: b }) => ({
    method,
    path: q === null ? p : `${p}?${q}`,
    headers: h,
    body: ['POST', 'PUT', 'PATCH'].includes(method) ? b : undefined,
  }));

/** Requests whose parts fit together (the type in the URL is the body's), so that they reach validation, patching and Bundles. */
const coherentRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.tuple(resource, headers).map(([r, h]) => ({ method: 'POST', path: `/fhir/${encode(String((r as { resourceType?: unknown }).resourceType))}`, headers: { ...h, 'content-type': FHIR_JSON }, body: JSON.stringify(r) })),
  fc.tuple(resource, id, headers).map(([r, i, h]) => ({ method: 'PUT', path: `/fhir/${encode(String((r as { resourceType?: unknown }).resourceType))}/${encode(i)}`, headers: { ...h, 'content-type': FHIR_JSON }, body: JSON.stringify({ ...(r as object), id: i }) })),
  fc.tuple(fc.constantFrom('Patient/fuzz-1', 'Patient/fuzz-2', 'Observation/fuzz-obs'), jsonPatch, headers).map(([target, p, h]) => ({ method: 'PATCH', path: `/fhir/${target}`, headers: { ...h, 'content-type': 'application/json-patch+json' }, body: JSON.stringify(p) })),
  fc.tuple(bundle, headers).map(([b, h]) => ({ method: 'POST', path: '/fhir', headers: { ...h, 'content-type': FHIR_JSON }, body: JSON.stringify(b) })),
  fc.tuple(fc.constantFrom('Patient', 'Observation', 'Encounter', 'Practitioner'), query, headers).map(([t, q, h]) => ({ method: 'GET', path: `/fhir/${t}?${q}`, headers: h })),
);

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(anyRequest, coherentRequest);
