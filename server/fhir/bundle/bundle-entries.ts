// FHIR R4 §3.1.0.11 batch and transaction (hl7.org/fhir/R4/http.html#transaction): the Bundle a
// client posts to the base URL, read into entries with their request parsed. Whether an entry's
// method, url and resource fit together is checked here, once, for both Bundle types.
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { isResourceType } from '../../../resources/definitions.js';
import { badRequest, FhirError, tooLarge } from '../errors.js';
import { parseIfMatch } from '../version-match.js';

export type EntryMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface EntryRequest {
  method: EntryMethod;
  /** The url as written, for messages and history. */
  url: string;
  resourceType?: string;
  id?: string;
  versionId?: string;
  /** `Type/_history` or `Type/id/_history`. */
  history?: boolean;
  /** The query string of a search or a conditional write (`identifier=…`), without `?`. */
  query?: string;
  ifNoneExist?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
}

export interface ParsedEntry {
  /** Position in the Bundle, from 0. */
  index: number;
  fullUrl?: string;
  resource?: Resource;
  request: EntryRequest;
}

/** A failure of one entry, named by its index and fullUrl so the client can find it. */
export class EntryError extends FhirError {
  constructor(
    readonly entry: { index: number; fullUrl?: string },
    cause: FhirError,
  ) {
    const where = `Bundle.entry[${entry.index}]${entry.fullUrl ? ` (fullUrl ${entry.fullUrl})` : ''}`;
    super(
      cause.status,
      cause.issues.map((issue) => ({
        ...issue,
        details: { ...issue.details, text: `${where}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}` },
        expression: issue.expression?.length ? issue.expression.map((e) => `Bundle.entry[${entry.index}].resource.${e.replace(/^[A-Z][A-Za-z]+\.?/, '')}`.replace(/\.$/, '')) : [`Bundle.entry[${entry.index}]`],
      })),
      cause.headers,
    );
  }
}

/** The posted Bundle, checked to be a batch or transaction of at most `maxEntries` entries (413 beyond). */
export function bundleOf(body: unknown, maxEntries: number): Bundle & { type: 'batch' | 'transaction' } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('POST to the base URL takes a Bundle of type batch or transaction');
  const bundle = body as Bundle;
  if (bundle.resourceType !== 'Bundle') throw badRequest(`POST to the base URL takes a Bundle, not ${String(bundle.resourceType ?? 'a resource without resourceType')}`, 'resourceType');
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw badRequest(`POST to the base URL takes a Bundle of type batch or transaction, not ${String(bundle.type ?? '(no type)')}`, 'Bundle.type');
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  const count = bundle.entry?.length ?? 0;
  if (count > maxEntries) throw tooLarge(`The Bundle has ${count} entries; this server takes at most ${maxEntries} (KILN_MAX_BUNDLE_ENTRIES)`);
  return bundle as Bundle & { type: 'batch' | 'transaction' };
}

const METHODS = new Set<EntryMethod>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Reads entry `index`; throws an EntryError when its request does not fit. */
export function parseEntry(raw: BundleEntry | undefined, index: number, baseUrl: string): ParsedEntry {
  const fullUrl = typeof raw?.fullUrl === 'string' ? raw.fullUrl : undefined;
  try {
    if (raw === null || typeof raw !== 'object') throw badRequest('The entry is not an object');
    const request = raw.request;
    if (!request || typeof request !== 'object') throw badRequest('The entry has no request: every entry of a batch or transaction needs request.method and request.url');
    const method = request.method as EntryMethod;
    if (!METHODS.has(method)) throw badRequest(`request.method "${String(request.method)}" is not one of GET, HEAD, POST, PUT, PATCH, DELETE`);
    if (typeof request.url !== 'string' || !request.url) throw badRequest('The entry has no request.url');
    const parsed: EntryRequest = { method, url: request.url, ...parseUrl(request.url, baseUrl) };
    if (request.ifNoneExist !== undefined) parsed.ifNoneExist = String(request.ifNoneExist).replace(/^[^?]*\?/, '');
    if (request.ifMatch !== undefined) parsed.ifMatch = parseIfMatch(String(request.ifMatch));
    if (request.ifNoneMatch !== undefined) parsed.ifNoneMatch = String(request.ifNoneMatch);
    if (request.ifModifiedSince !== undefined) {
      const since = new Date(String(request.ifModifiedSince));
      if (Number.isNaN(since.getTime())) throw badRequest(`request.ifModifiedSince "${String(request.ifModifiedSince)}" is not an instant`);
      parsed.ifModifiedSince = since;
    }
    const resource = raw.resource;
    if (resource !== undefined && (resource === null || typeof resource !== 'object' || typeof resource.resourceType !== 'string')) {
      throw badRequest('entry.resource is not a resource (it has no resourceType)');
    }
    assertFits(parsed, resource);
    return { index, fullUrl, resource, request: parsed };
  } catch (error) {
    if (error instanceof FhirError && !(error instanceof EntryError)) throw new EntryError({ index, fullUrl }, error);
    throw error;
  }
}

/** `Type`, `Type/id`, `Type/id/_history/vid`, `Type/_history`, `Type?query`, absolute under this server's base. */
function parseUrl(url: string, baseUrl: string): Omit<EntryRequest, 'method' | 'url'> {
  let local = url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url;
  if (/^[a-z][a-z0-9+.-]*:/i.test(local)) throw badRequest(`request.url "${url}" is not on this server (${baseUrl})`);
  local = local.replace(/^\//, '');
  const at = local.indexOf('?');
  const path = at < 0 ? local : local.slice(0, at);
  const query = at < 0 ? undefined : local.slice(at + 1);
  const parts = path.split('/');
  const [resourceType, second, third, fourth] = parts;
  if (!resourceType || !isResourceType(resourceType)) throw badRequest(`request.url "${url}" does not start with a resource type`);
  if (parts.length === 1) return { resourceType, query };
  if (parts.length === 2 && second === '_history') return { resourceType, history: true, query };
  if (!ID.test(second)) throw badRequest(`request.url "${url}": "${second}" is not a resource id`);
  if (parts.length === 2) return { resourceType, id: second, query };
  if (third === '_history' && parts.length === 3) return { resourceType, id: second, history: true, query };
  if (third === '_history' && parts.length === 4 && /^[1-9][0-9]{0,8}$/.test(fourth)) return { resourceType, id: second, versionId: fourth, query };
  throw badRequest(`request.url "${url}" is not an interaction a Bundle entry can carry (Type, Type/id, Type/id/_history/vid, Type?query)`);
}

function assertFits(request: EntryRequest, resource: Resource | undefined): void {
  const { method, resourceType, id, versionId, history, query, url } = request;
  const plain = !versionId && !history;
  switch (method) {
    case 'POST':
      if (!resource) throw badRequest(`POST ${url} has no resource to create`);
      if (id || !plain || query) throw badRequest(`POST ${url}: a create names only the type (POST ${resourceType})`);
      break;
    case 'PUT':
      if (!resource) throw badRequest(`PUT ${url} has no resource`);
      if (!plain || (!id && !query) || (id && query)) throw badRequest(`PUT ${url}: an update names Type/id or Type?criteria`);
      break;
    case 'PATCH':
      if (!resource) throw badRequest(`PATCH ${url} has no patch: send a Binary with contentType application/json-patch+json`);
      if (!plain || (!id && !query) || (id && query)) throw badRequest(`PATCH ${url}: a patch names Type/id or Type?criteria`);
      break;
    case 'DELETE':
      if (!plain || (!id && !query) || (id && query)) throw badRequest(`DELETE ${url}: a delete names Type/id or Type?criteria`);
      break;
    case 'GET':
    case 'HEAD':
      if (versionId && query) throw badRequest(`${method} ${url}: a version read takes no parameters`);
      break;
  }
  if ((method === 'POST' || method === 'PUT') && resource && resource.resourceType !== resourceType) {
    throw badRequest(`${method} ${url} carries a ${resource.resourceType}, not a ${resourceType}`);
  }
  if (request.ifNoneExist !== undefined && method !== 'POST') throw badRequest(`request.ifNoneExist applies to POST, not ${method}`);
  if (request.ifMatch !== undefined && !['PUT', 'PATCH', 'DELETE'].includes(method)) throw badRequest(`request.ifMatch applies to PUT, PATCH and DELETE, not ${method}`);
  if ((request.ifNoneMatch !== undefined || request.ifModifiedSince !== undefined) && method !== 'GET' && method !== 'HEAD') {
    throw badRequest(`request.ifNoneMatch and ifModifiedSince apply to GET, not ${method}`);
  }
}
