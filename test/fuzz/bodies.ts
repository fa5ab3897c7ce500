// Request bodies for the fuzz suite: text that is not JSON or nests too deep, resources with values
// of the wrong JSON type in their elements, JSON Patch documents reaching for odd paths, and Bundles
// of random entries (hl7.org/fhir/R4/http.html).
import fc from 'fast-check';
import { id, oddString, RESOURCE_TYPES, resourceType } from './values.js';
import { query } from './search-params.js';

const BASE_RESOURCES: Record<string, unknown>[] = [
  { resourceType: 'Patient', name: [{ family: 'Fuzz', given: ['Ann'] }], gender: 'female', birthDate: '1990-01-01', identifier: [{ system: 'urn:fuzz', value: '1' }] },
  { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: 'Patient/fuzz-1' }, valueQuantity: { value: 72, unit: '/min' } },
  { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' } },
  { resourceType: 'Organization', name: 'Fuzz Clinic' },
  { resourceType: 'Binary', contentType: 'text/plain', data: 'aGVsbG8=' },
];

/** Element names to put odd values under: real ones of the base resources, and some that are not. */
const ELEMENTS = ['name', 'family', 'gender', 'birthDate', 'identifier', 'status', 'code', 'subject', 'valueQuantity', 'value', 'meta', 'text', 'contained', 'extension', '_birthDate', 'id', 'resourceType', 'reference', 'coding', 'class', '__proto__', 'constructor', 'nickname'];

const jsonValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString, fc.constantFrom({}, [], null, [{}], { reference: {} }, { coding: {} }, { url: '\u0000' }, { family: '\ud800' }));

/** A base resource with a few elements, at any depth, replaced by odd values. */
const mutatedResource = fc
  .tuple(fc.constantFrom(...BASE_RESOURCES), fc.array(fc.tuple(fc.array(fc.constantFrom(...ELEMENTS, '0'), { minLength: 1, maxLength: 3 }), jsonValue), { maxLength: 3 }))
  .map(([base, changes]) => {
    const resource = structuredClone(base) as Record<string, unknown>;
    // Own properties only, defined rather than assigned: `__proto__` and `constructor` become plain
    // keys of the document (as JSON.parse makes them), never a way into this process's prototypes.
    const define = (node: object, key: string, value: unknown) => Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
    for (const [path, value] of changes) {
      let node: Record<string, unknown> = resource;
      for (const key of path.slice(0, -1)) {
        const next = Object.hasOwn(node, key) ? node[key] : undefined;
        if (next === null || typeof next !== 'object') define(node, key, {});
        node = node[key] as Record<string, unknown>;
      }
      // A copy: constant values are shared between generated requests, and later changes may nest into them.
      define(node, path[path.length - 1], structuredClone(value));
    }
    return resource;
  });

export const resource: fc.Arbitrary<unknown> = fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...BASE_RESOURCES) }, { weight: 4, arbitrary: mutatedResource });

const pointer = fc.oneof(
  fc.constantFrom('', '/', '/name', '/name/0', '/name/-', '/name/0/family', '/gender', '/id', '/resourceType', '/extension', '/extension/-', '/meta/tag', '/__proto__/x', '/constructor/prototype/x', '/a~1b', '/a~2', '/name/99', '/name/-1', '/name/01'),
  oddString.map((s) => `/${s}`),
);

const patchOp = fc.record(
  {
    op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'explode', '_get'),
    path: pointer,
    from: pointer,
    value: jsonValue,
  },
  { requiredKeys: ['op'] },
);

export const jsonPatch: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.array(patchOp, { maxLength: 6 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }).map((n) => Array.from({ length: n }, () => ({ op: 'copy', from: '/name', path: '/name/-' }))) },
  { weight: 1, arbitrary: jsonValue },
);

const entryRequest = fc.record(
  {
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'get'),
    url: fc.oneof(
      fc.tuple(resourceType, fc.constantFrom('', '/fuzz-1', '/fuzz-2/_history', '/fuzz-1/_history/1', '/_history')).map(([t, rest]) => `${t}${rest}`),
      fc.tuple(fc.constantFrom(...RESOURCE_TYPES), query).map(([t, q]) => `${t}?${q}`),
      fc.tuple(resourceType, id).map(([t, i]) => `${t}/${i}`),
      oddString,
    ),
    ifNoneExist: fc.oneof(query, oddString),
    ifMatch: fc.constantFrom('W/"1"', '"2"', '*', 'nonsense'),
    ifNoneMatch: fc.constantFrom('W/"1"', '*', 'x'),
    ifModifiedSince: fc.constantFrom('2020-01-01T00:00:00Z', 'yesterday'),
  },
  { requiredKeys: ['method', 'url'] },
);

const entry = fc.record(
  {
    fullUrl: fc.oneof(fc.uuid().map((u) => `urn:uuid:${u}`), fc.constantFrom('urn:uuid:same', 'Patient/fuzz-1', 'http://elsewhere/fhir/Patient/1'), oddString),
    resource: fc.oneof(resource, fc.constant({ resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from('[{"op":"add","path":"/active","value":true}]').toString('base64') })),
    request: entryRequest,
  },
  { requiredKeys: [] },
);

export const bundle: fc.Arbitrary<unknown> = fc.record(
  {
    resourceType: fc.constantFrom('Bundle', 'Bundle', 'Patient'),
    type: fc.constantFrom('batch', 'transaction', 'transaction', 'searchset', 'nope'),
    entry: fc.oneof(fc.array(entry, { maxLength: 6 }), jsonValue),
  },
  { requiredKeys: ['resourceType'] },
);

/** Text that is not JSON, or JSON a reader must not walk into. */
export const malformedJson: fc.Arbitrary<string> = fc.oneof(
  oddString,
  fc.constantFrom('{', '{"resourceType":"Patient",', '[', '{"resourceType":"Patient"}}', '\u0000', '\ufeff{"resourceType":"Patient"}', '{"resourceType":"Patient","name":[{"family":"\\ud800"}]}', '1e99999', '"\\u0000"'),
  fc.integer({ min: 50, max: 20_000 }).map((depth) => `{"resourceType":"Patient","extension":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.integer({ min: 50, max: 20_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
);

/** Any body: JSON of a resource, a patch or a Bundle, or text that is none of them. */
export const body: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: resource.map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: jsonPatch.map((p) => JSON.stringify(p)) },
  { weight: 2, arbitrary: bundle.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: malformedJson },
);
