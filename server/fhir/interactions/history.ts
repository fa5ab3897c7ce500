// FHIR R4 §3.1.0.9 history for an instance, a type and the whole system
// (hl7.org/fhir/R4/http.html#history): a Bundle of type history, newest version first.
import { dateRange } from '../../../resources/fhir-date-range.js';
import { readHistory, type HistoryCursor, type HistoryRow, type HistoryScope } from '../../store/history-store.js';
import { readCurrent } from '../../store/resource-store.js';
import type { Resource } from '@medplum/fhirtypes';
import { assertCanRead, assertUnconfined, forbidden, permittingScopes } from '../access-checks.js';
import type { FhirContext } from '../context.js';
import { auditRead } from '../audit-hooks.js';
import { badRequest, invalidValue, notFound } from '../errors.js';

const FORMAT_PARAMETERS = new Set(['_format', '_pretty']);

export interface HistoryPage {
  /** The Bundle as JSON text (entries embed stored resources verbatim). */
  bundle: string;
}

export async function history(ctx: FhirContext, scope: HistoryScope, query: URLSearchParams): Promise<HistoryPage> {
  if (scope.resourceType && scope.id) {
    const current = await readCurrent(ctx.db, scope.resourceType, scope.id);
    if (!current) throw notFound(`${scope.resourceType}/${scope.id} is not known`);
    // An instance's history is as readable as the instance; a deleted one, as its type.
    if (current.content) await assertCanRead(ctx, JSON.parse(current.content) as Resource);
    else if (ctx.access) permittingScopes(ctx, scope.resourceType, 'read', scope.id);
  } else if (ctx.access) {
    assertUnconfined(ctx, 'History of a whole type or server');
    if (scope.resourceType) permittingScopes(ctx, scope.resourceType, 'search');
    else if (!ctx.access.scopes.some((s) => s.resourceType === '*' && s.permissions.has('s') && !s.filter.length)) {
      throw forbidden('History of the whole server needs a scope that searches every type (*.s)');
    }
  }
  const interaction = scope.id ? 'history-instance' : scope.resourceType ? 'history-type' : 'history-system';
  auditRead(ctx, interaction, { type: scope.resourceType, query: `${[scope.resourceType, scope.id, '_history'].filter(Boolean).join('/')}?${query}` });
  const params = parseHistoryParameters(ctx, query);
  const rows = await readHistory(ctx.db, { scope, ...params });
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
  if (hasNewer && page.length) links.push(link('previous', { key: 'before', row: page[0] }));
  if (hasOlder && page.length) links.push(link('next', { key: 'after', row: page[page.length - 1] }));

  const entries = page.map((row) => entryText(ctx, row));
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
    if ((key !== 'after' && key !== 'before') || typeof lastUpdated !== 'string' || Number.isNaN(Date.parse(lastUpdated))) return undefined;
    if (typeof resourceType !== 'string' || typeof id !== 'string' || !Number.isInteger(versionId)) return undefined;
    return { key, cursor: { lastUpdated, resourceType, id, versionId: versionId as number } };
  } catch {
    return undefined;
  }
}
