// FHIR R4 §3.1.0.9 history for an instance, a type and the whole system
// (hl7.org/fhir/R4/http.html#history): a Bundle of type history, newest version first.
import { dateRange } from '../../../resources/fhir-date-range.js';
import { isResourceType, resourceTypes } from '../../../resources/definitions.js';
import { ID_PATTERN } from '../../../resources/validate.js';
import { hasVisibleVersion, readHistory, type HistoryCursor, type HistoryRestriction, type HistoryRow, type HistoryScope } from '../../store/history-store.js';
import { readCurrent } from '../../store/resource-store.js';
import type { ResourceScope } from '../../auth/scopes.js';
import { assertMayRead, confinedPatient, forbidden, permittingScopes, searchable, versionsWithinFilters } from '../access-checks.js';
import { SHARED_REFERENCE_TYPES } from '../confinement.js';
import type { FhirContext } from '../context.js';
import { auditRead } from '../audit-hooks.js';
import { badRequest, invalidValue, notFound } from '../errors.js';

const FORMAT_PARAMETERS = new Set(['_format', '_pretty']);
/** The instants of history rows, as the cursor writes them (years 1 to 9999). */
const INSTANT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;

export interface HistoryPage {
  /** The Bundle as JSON text (entries embed stored resources verbatim). */
  bundle: string;
}

/** Which versions the caller may see: a restriction the query applies, and scopes whose filters each version must meet. */
interface Visibility {
  restriction?: HistoryRestriction;
  scopesOf: (type: string) => ResourceScope[] | undefined;
}

/**
 * Every version served is judged on its own: its patient compartment against a confined caller's
 * patient, its content against the filters of v2 scopes. An instance none of whose versions the
 * caller may see answers as one that does not exist.
 */
async function visibility(ctx: FhirContext, scope: HistoryScope): Promise<Visibility> {
  const patient = confinedPatient(ctx);
  const restriction: HistoryRestriction = patient === undefined ? {} : { patient: { id: patient, sharedTypes: [...SHARED_REFERENCE_TYPES] } };
  if (scope.resourceType && scope.id) {
    const scopes = assertMayRead(ctx, scope.resourceType, scope.id);
    const exists = patient === undefined ? Boolean(await readCurrent(ctx.db, scope.resourceType, scope.id)) : await hasVisibleVersion(ctx.db, scope.resourceType, scope.id, restriction);
    if (!exists) throw notFound(`${scope.resourceType}/${scope.id} is not known`);
    return { restriction, scopesOf: () => scopes };
  }
  if (!ctx.access) return { scopesOf: () => undefined };
  if (scope.resourceType) {
    const scopes = permittingScopes(ctx, scope.resourceType, 'search');
    return { restriction, scopesOf: () => scopes };
  }
  const types = resourceTypes().filter((type) => searchable(ctx, type));
  if (!types.length) throw forbidden("The token's scopes do not allow searching any type");
  if (types.length < resourceTypes().length) restriction.types = types;
  return { restriction, scopesOf: (type) => permittingScopes(ctx, type, 'search') };
}

/** Of a page of versions, those the caller's scopes' filters let it see. */
async function visibleRows(ctx: FhirContext, rows: HistoryRow[], scopesOf: Visibility['scopesOf']): Promise<HistoryRow[]> {
  if (!ctx.access) return rows;
  const keep = rows.map(() => true);
  for (const type of new Set(rows.map((row) => row.resource_type))) {
    const ofType = rows.map((row, index) => ({ row, index })).filter(({ row }) => row.resource_type === type);
    const versions = ofType.map(({ row }) => ({ id: row.id, content: row.content, lastUpdated: row.last_updated, patientCompartment: row.patient_compartment ?? [] }));
    const within = await versionsWithinFilters(ctx, type, versions, scopesOf(type));
    ofType.forEach(({ index }, i) => (keep[index] = within[i]));
  }
  return rows.filter((_, index) => keep[index]);
}

export async function history(ctx: FhirContext, scope: HistoryScope, query: URLSearchParams): Promise<HistoryPage> {
  const params = parseHistoryParameters(ctx, query);
  const { restriction, scopesOf } = await visibility(ctx, scope);
  const interaction = scope.id ? 'history-instance' : scope.resourceType ? 'history-type' : 'history-system';
  auditRead(ctx, interaction, { type: scope.resourceType, query: `${[scope.resourceType, scope.id, '_history'].filter(Boolean).join('/')}?${query}` });
  const rows = await readHistory(ctx.db, { scope, restriction, ...params });
  const more = rows.length > params.count;
  const page = rows.slice(0, params.count);
  if (params.before) page.reverse();
  // Going back, "more" means there is an even newer page; going forward, an older one.
  const hasNewer = params.before ? more : Boolean(params.after);
  const hasOlder = params.before ? true : more;

  const path = [scope.resourceType, scope.id, '_history'].filter(Boolean).join('/');
  const link = (relation: string, cursor?: { key: 'after' | 'before'; row: HistoryRow }) => {
    const search = new URLSearchParams();
    search.set('_count', String(params.count));
    if (params.sinceText) search.set('_since', params.sinceText);
    if (params.atText) search.set('_at', params.atText);
    if (cursor) search.set('_page', encodeCursor(cursor.key, cursor.row));
    return { relation, url: `${ctx.baseUrl}/${path}?${search}` };
  };
  const links = [link('self', params.pageText ? decodeLinkCursor(params) : undefined)];
  // The links continue from the versions read, shown or not, so a page short of hidden versions still leads on.
  if (hasNewer && page.length) links.push(link('previous', { key: 'before', row: page[0] }));
  if (hasOlder && page.length) links.push(link('next', { key: 'after', row: page[page.length - 1] }));

  const entries = (await visibleRows(ctx, page, scopesOf)).map((row) => entryText(ctx, row));
  const head: Record<string, unknown> = { resourceType: 'Bundle', type: 'history' };
  head.link = links;
  const headText = JSON.stringify(head);
  return { bundle: `${headText.slice(0, -1)},"entry":[${entries.join(',')}]}` };
}

function entryText(ctx: FhirContext, row: HistoryRow): string {
  const fullUrl = `${ctx.baseUrl}/${row.resource_type}/${row.id}`;
  const status = row.method === 'POST' ? '201 Created' : row.method === 'DELETE' ? '204 No Content' : '200 OK';
  const frame = {
    fullUrl,
    request: { method: row.method === 'PATCH' ? 'PATCH' : row.method, url: row.url },
    response: { status, etag: `W/"${row.version_id}"`, lastModified: row.last_updated.toISOString() },
  };
  const text = JSON.stringify(frame);
  if (row.content === null) return text;
  return `{"fullUrl":${JSON.stringify(fullUrl)},"resource":${row.content},${text.slice(text.indexOf('"request"'))}`;
}

interface HistoryParameters {
  count: number;
  since?: Date;
  sinceText?: string;
  at?: { start: Date; end: Date };
  atText?: string;
  after?: HistoryCursor;
  before?: HistoryCursor;
  pageText?: string;
}

function parseHistoryParameters(ctx: FhirContext, query: URLSearchParams): HistoryParameters {
  const params: HistoryParameters = { count: ctx.defaultPageSize };
  for (const [name, value] of query) {
    if (FORMAT_PARAMETERS.has(name)) continue;
    switch (name) {
      case '_count': {
        if (!/^[0-9]{1,6}$/.test(value)) throw invalidValue(`_count must be a whole number, not "${value}"`);
        params.count = Math.min(Math.max(Number(value), 1), ctx.maxPageSize);
        break;
      }
      case '_since': {
        const range = dateRange(value);
        if (!range) throw invalidValue(`_since must be a FHIR instant such as 2024-01-31T10:00:00Z, not "${value}"`);
        params.since = range.start;
        params.sinceText = value;
        break;
      }
      case '_at': {
        const range = dateRange(value);
        if (!range) throw invalidValue(`_at must be a FHIR date or dateTime such as 2024-01-31, not "${value}"`);
        params.at = range;
        params.atText = value;
        break;
      }
      case '_page': {
        const decoded = decodeCursor(value);
        if (!decoded) throw invalidValue(`_page "${value}" is not a page of this server's history`);
        params[decoded.key] = decoded.cursor;
        params.pageText = value;
        break;
      }
      default:
        throw badRequest(`History does not support the parameter "${name}" (supported: _count, _since, _at)`);
    }
  }
  return params;
}

function encodeCursor(key: 'after' | 'before', row: HistoryRow): string {
  const cursor = [key, row.last_updated.toISOString(), row.resource_type, row.id, row.version_id];
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeLinkCursor(params: HistoryParameters): { key: 'after' | 'before'; row: HistoryRow } | undefined {
  const cursor = params.after ?? params.before;
  if (!cursor) return undefined;
  return {
    key: params.after ? 'after' : 'before',
    row: { last_updated: new Date(cursor.lastUpdated), resource_type: cursor.resourceType, id: cursor.id, version_id: cursor.versionId } as HistoryRow,
  };
}

function decodeCursor(text: string): { key: 'after' | 'before'; cursor: HistoryCursor } | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 5) return undefined;
    const [key, lastUpdated, resourceType, id, versionId] = value as [unknown, unknown, unknown, unknown, unknown];
    // A client can send any token: each value must be one a history row can hold before it reaches the query.
    if ((key !== 'after' && key !== 'before') || typeof lastUpdated !== 'string' || !INSTANT.test(lastUpdated) || Number.isNaN(Date.parse(lastUpdated))) return undefined;
    if (typeof resourceType !== 'string' || !isResourceType(resourceType) || typeof id !== 'string' || !ID_PATTERN.test(id)) return undefined;
    if (!Number.isInteger(versionId) || (versionId as number) < 1 || (versionId as number) > 2 ** 31 - 1) return undefined;
    return { key, cursor: { lastUpdated, resourceType, id, versionId: versionId as number } };
  } catch {
    return undefined;
  }
}
