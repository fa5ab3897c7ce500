// The requests of the isolation matrix, generated rather than listed: for each resource the caller
// may not see, every interaction and search form that can name it, and for each type every search
// that could reach another patient's data through a reference, a chain, _has, _include, _revinclude,
// _contained, _content, _text, a compartment, history, a Bundle or a conditional write. Where a
// request names something, its control names something that does not exist instead.
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { compartment } from '../../resources/compartments.js';
import { indexedParameters } from '../../resources/search/parameters.js';
import { isSharedReferenceType } from '../../server/fhir/confinement.js';
import type { HttpRequest } from './answers.js';
import { supportId, SUPPORT_TYPES } from './instances.js';
import type { Stored, World } from './world.js';

export interface Probe {
  label: string;
  request: HttpRequest;
  /** The same request about nothing that exists: the two answers must tell the caller the same. */
  control?: HttpRequest;
  /** Follow `next` links (history and searches across types), checking every page. */
  pages?: boolean;
}

const FHIR_JSON = { 'content-type': 'application/fhir+json' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_PATCH = { 'content-type': 'application/json-patch+json' };
const PATCH = JSON.stringify([{ op: 'add', path: '/language', value: 'en' }]);
const PATCH_BINARY = { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(PATCH).toString('base64') };

const get = (path: string): HttpRequest => ({ method: 'GET', path: `/fhir/${path}` });
const bundle = (type: 'batch' | 'transaction', entry: unknown[]): HttpRequest => ({
  method: 'POST',
  path: '/fhir',
  headers: FHIR_JSON,
  body: JSON.stringify({ resourceType: 'Bundle', type, entry }),
});

/** A probe and its control, built by one function from the id (or word) it is about. */
function paired(label: string, make: (subject: string) => HttpRequest, subject: string, nothing: string): Probe {
  return { label, request: make(subject), control: make(nothing) };
}

/** One id per type that names nothing: controls of a type's resources are then the same requests, answered once. */
const nothingOfType = new Map<string, string>();
const nothingOf = (type: string) => nothingOfType.get(type) ?? (nothingOfType.set(type, randomUUID()), nothingOfType.get(type) as string);

/** Every way of reaching one resource by its id. */
export function probesOfResource(target: Stored): Probe[] {
  const { type, id } = target;
  const nothing = nothingOf(type);
  const body = (subject: string) => JSON.stringify({ ...target.resource, id: subject });
  const withoutId = JSON.stringify({ ...target.resource, id: undefined, meta: undefined });
  const of = (what: string, make: (subject: string) => HttpRequest) => paired(`${what} ${target.label}`, make, id, nothing);
  return [
    of('read', (s) => get(`${type}/${s}`)),
    ...(type === 'Binary' ? [of('read as raw content', (s) => ({ ...get(`${type}/${s}`), headers: { accept: '*/*' } }))] : []),
    of('vread', (s) => get(`${type}/${s}/_history/1`)),
    of('history', (s) => get(`${type}/${s}/_history`)),
    of('search _id', (s) => get(`${type}?_id=${s}`)),
    of('search _id by POST', (s) => ({ method: 'POST', path: `/fhir/${type}/_search`, headers: FORM, body: `_id=${s}` })),
    of('system search _id', (s) => get(`?_type=${type}&_id=${s}`)),
    of('update', (s) => ({ method: 'PUT', path: `/fhir/${type}/${s}`, headers: FHIR_JSON, body: body(s) })),
    of('update with If-Match', (s) => ({ method: 'PUT', path: `/fhir/${type}/${s}`, headers: { ...FHIR_JSON, 'if-match': 'W/"1"' }, body: body(s) })),
    of('patch', (s) => ({ method: 'PATCH', path: `/fhir/${type}/${s}`, headers: JSON_PATCH, body: PATCH })),
    of('delete', (s) => ({ method: 'DELETE', path: `/fhir/${type}/${s}` })),
    of('conditional create', (s) => ({ method: 'POST', path: `/fhir/${type}`, headers: { ...FHIR_JSON, 'if-none-exist': `_id=${s}` }, body: withoutId })),
    of('conditional update', (s) => ({ method: 'PUT', path: `/fhir/${type}?_id=${s}`, headers: FHIR_JSON, body: withoutId })),
    of('conditional patch', (s) => ({ method: 'PATCH', path: `/fhir/${type}?_id=${s}`, headers: JSON_PATCH, body: PATCH })),
    of('conditional delete', (s) => ({ method: 'DELETE', path: `/fhir/${type}?_id=${s}` })),
    of('batch of reads and writes', (s) =>
      bundle('batch', [
        { request: { method: 'GET', url: `${type}/${s}` } },
        { request: { method: 'GET', url: `${type}/${s}/_history/1` } },
        { request: { method: 'GET', url: `${type}/${s}/_history` } },
        { request: { method: 'GET', url: `${type}?_id=${s}` } },
        { resource: { ...target.resource, id: s }, request: { method: 'PUT', url: `${type}/${s}` } },
        { resource: PATCH_BINARY, request: { method: 'PATCH', url: `${type}/${s}` } },
        { request: { method: 'DELETE', url: `${type}/${s}` } },
      ]),
    ),
    ...(type === 'Subscription'
      ? [
          of('$status', (s) => get(`Subscription/${s}/$status`)),
          of('$events', (s) => get(`Subscription/${s}/$events?eventsSinceNumber=1&content=full-resource`)),
          of('$get-ws-binding-token', (s) => get(`Subscription/${s}/$get-ws-binding-token`)),
          of('$events by POST', (s) => ({ method: 'POST', path: `/fhir/Subscription/${s}/$events`, headers: FHIR_JSON, body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'content', valueCode: 'full-resource' }] }) })),
        ]
      : []),
    of('transaction read', (s) => bundle('transaction', [{ request: { method: 'GET', url: `${type}/${s}` } }])),
    of('transaction update', (s) => bundle('transaction', [{ resource: { ...target.resource, id: s }, request: { method: 'PUT', url: `${type}/${s}` } }])),
    of('transaction delete', (s) => bundle('transaction', [{ request: { method: 'DELETE', url: `${type}/${s}` } }])),
    of('transaction conditional writes', (s) =>
      bundle('transaction', [
        { request: { method: 'DELETE', url: `${type}?_id=${s}` } },
        { resource: JSON.parse(withoutId) as Resource, request: { method: 'PUT', url: `${type}?_id=${s}&_lastUpdated=gt2000-01-01` } },
      ]),
    ),
    of('transaction conditional reference', (s) =>
      bundle('transaction', [{ resource: { resourceType: 'Basic', code: { text: 'probe' }, subject: { reference: `${type}?_id=${s}` } }, request: { method: 'POST', url: 'Basic' } }]),
    ),
  ];
}

/** Reference parameters of `type` that may point at `target`. */
function referenceParameters(type: string, target: string): string[] {
  return [...indexedParameters(type).values()].filter((p) => p.type === 'reference' && (!p.target.length || p.target.includes(target))).map((p) => p.code);
}

/** A chain or _has through `code` may need the target type named when the parameter has several. */
function typed(type: string, code: string, target: string): string {
  const parameter = indexedParameters(type).get(code);
  return parameter && parameter.target.length === 1 ? code : `${code}:${target}`;
}

/** Every search of `type` that could reach B's data through its references and content. */
export function probesOfType(world: World, type: string): Probe[] {
  const { patients, markers } = world;
  const probes: Probe[] = [];
  const nobody = randomUUID();
  const add = (label: string, make: (subject: string) => HttpRequest, subject: string, nothing: string) => probes.push(paired(`${label} (${type})`, make, subject, nothing));
  const scan = (label: string, request: HttpRequest, pages = false) => probes.push({ label: `${label} (${type})`, request, pages });
  for (const code of referenceParameters(type, 'Patient')) {
    add(`search ${code}=Patient/B`, (s) => get(`${type}?${code}=Patient/${s}`), patients.b, nobody);
    add(`chain ${code}.name`, (s) => get(`${type}?${typed(type, code, 'Patient')}.name=${s}`), markers.b, markers.none);
    add(`chain ${code}._id`, (s) => get(`${type}?${typed(type, code, 'Patient')}._id=${s}`), patients.b, nobody);
    add(`_has:${type}:${code} from Patient`, (s) => get(`Patient?_has:${type}:${code}:_content=${s}`), markers.b, markers.none);
    scan(`_revinclude ${type}:${code} and :iterate from Patient A`, get(`Patient?_id=${patients.a}&_revinclude=${type}:${code}&_include:iterate=*&_revinclude:iterate=${type}:*`));
  }
  for (const shared of SUPPORT_TYPES.filter(isSharedReferenceType)) {
    for (const code of referenceParameters(type, shared)) {
      add(`_has:${type}:${code} from ${shared}`, (s) => get(`${shared}?_has:${type}:${code}:_content=${s}`), markers.b, markers.none);
    }
    scan(`_revinclude ${type}:* from ${shared}`, get(`${shared}?_id=${supportId(shared)}&_revinclude=${type}:*&_revinclude:iterate=${type}:*&_include:iterate=*`));
  }
  add('_content', (s) => get(`${type}?_content=${s}`), markers.b, markers.none);
  add('_text', (s) => get(`${type}?_text=${s}`), markers.b, markers.none);
  add('_content, contained too', (s) => get(`${type}?_content=${s}&_contained=both`), markers.b, markers.none);
  add('system search _content', (s) => get(`?_type=${type}&_content=${s}`), markers.b, markers.none);
  add('search _lastUpdated and _id', (s) => get(`${type}?_lastUpdated=ge${world.since.slice(0, 10)}&_id=${s}`), patients.b, nobody);
  if (type === 'Patient' || compartment('Patient')?.members.has(type)) {
    add('compartment search', (s) => get(`Patient/${s}/${type}`), patients.b, nobody);
  }
  if (compartment('Practitioner')?.members.has(type)) scan('Practitioner compartment search', get(`Practitioner/${supportId('Practitioner')}/${type}?_count=1000`));
  scan('search everything', get(`${type}?_count=1000&_include=*&_revinclude=*`));
  scan('type history', get(`${type}/_history?_since=${world.since}&_count=1000`), true);
  return probes;
}

/** Searches across every type, contained resources, compartments and history. */
export function probesOfServer(world: World): Probe[] {
  const { patients, markers, since } = world;
  const nobody = randomUUID();
  return [
    paired('system search _content', (s) => get(`?_content=${s}`), markers.b, markers.none),
    paired('system search _text', (s) => get(`?_text=${s}`), markers.b, markers.none),
    paired('$everything of B', (s) => get(`Patient/${s}/$everything`), patients.b, nobody),
    paired('all types in B\'s compartment', (s) => get(`Patient/${s}/*`), patients.b, nobody),
    paired('contained resources by content', (s) => get(`Basic?_contained=true&_content=${s}`), markers.b, markers.none),
    paired('contained resources, as containers', (s) => get(`Basic?_contained=true&_containedType=container&_content=${s}`), markers.b, markers.none),
    paired('contained resources and resources', (s) => get(`Basic?_contained=both&_content=${s}`), markers.b, markers.none),
    { label: 'system search since the fixtures', request: get(`?_lastUpdated=ge${since}&_count=1000`), pages: true },
    { label: 'system history', request: get(`_history?_since=${since}&_count=1000`), pages: true },
    { label: '$everything of A', request: get(`Patient/${patients.a}/$everything?_count=1000`), pages: true },
    { label: 'all types in A\'s compartment', request: get(`Patient/${patients.a}/*?_count=1000`), pages: true },
    { label: 'contained resources', request: get('Basic?_contained=true&_count=1000') , pages: true },
  ];
}
