// Pages of results that span several resource types (system search, $everything, Patient/{id}/*):
// types in a fixed order, each by id, with a (type, id) cursor so a client can follow next links
// to the end without repeats.
import type { Condition } from '../../store/search/condition.js';
import { searchRows } from '../../store/search/search-sql.js';
import type { Queryable } from '../../store/database.js';
import { isResourceType } from '../../../resources/definitions.js';
import { ID_PATTERN } from '../../../resources/validate.js';
import { invalidValue } from '../errors.js';

export interface TypeQuery {
  resourceType: string;
  conditions: Condition[];
}

export interface TypeCursor {
  typeIndex: number;
  afterId?: string;
}

export interface MultiTypePage {
  entries: string[];
  next?: TypeCursor;
}

async function multiTypePage(q: Queryable, baseUrl: string, queries: TypeQuery[], count: number, cursor: TypeCursor): Promise<MultiTypePage> {
  const entries: string[] = [];
  for (let index = cursor.typeIndex; index < queries.length; index++) {
    const { resourceType, conditions } = queries[index];
    const remaining = count - entries.length;
    const page = index === cursor.typeIndex && cursor.afterId ? { after: [cursor.afterId] } : undefined;
    const rows = await searchRows(q, { resourceType, conditions, sort: [], count: remaining, page });
    for (const row of rows.slice(0, remaining)) {
      entries.push(`{"fullUrl":${JSON.stringify(`${baseUrl}/${resourceType}/${row.id}`)},"resource":${row.content},"search":{"mode":"match"}}`);
    }
    if (rows.length > remaining) return { entries, next: { typeIndex: index, afterId: rows[remaining - 1].id } };
    if (entries.length >= count) return { entries, next: index + 1 < queries.length ? { typeIndex: index + 1 } : undefined };
  }
  return { entries };
}

function encodeTypeCursor(cursor: TypeCursor): string {
  return Buffer.from(JSON.stringify([cursor.typeIndex, cursor.afterId ?? null])).toString('base64url');
}

function decodeTypeCursor(text: string): TypeCursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2 || !Number.isInteger(value[0]) || value[0] < 0) return undefined;
    // The id continued from is one a resource can have: nothing else may reach the query.
    if (value[1] !== null && (typeof value[1] !== 'string' || !ID_PATTERN.test(value[1]))) return undefined;
    return { typeIndex: value[0] as number, afterId: (value[1] as string | null) ?? undefined };
  } catch {
    return undefined;
  }
}

/** The searchset Bundle text of one such page. */
function multiTypeBundle(entries: string[], links: { relation: string; url: string }[]): string {
  const head = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: links });
  return `${head.slice(0, -1)}${entries.length ? `,"entry":[${entries.join(',')}]` : ''}}`;
}

/** The request parameters every search across types shares. */
export interface MultiTypeRequest {
  count: number;
  cursor: TypeCursor;
  /** Types named by `_type`, when given. */
  types?: string[];
  /** Parameters repeated in the self and next links. */
  linkParams: URLSearchParams;
}

export function newMultiTypeRequest(defaultCount: number): MultiTypeRequest {
  return { count: defaultCount, cursor: { typeIndex: 0 }, linkParams: new URLSearchParams() };
}

/** Takes `_count`, `_page`, `_type`, `_format` and `_pretty`; false for any other parameter. */
export function readSharedParameter(request: MultiTypeRequest, name: string, value: string, maxCount: number): boolean {
  switch (name) {
    case '_count':
      if (!/^[0-9]{1,7}$/.test(value)) throw invalidValue(`_count must be a whole number, not "${value}"`);
      request.count = Math.max(1, Math.min(Number(value), maxCount));
      return true;
    case '_page': {
      const decoded = decodeTypeCursor(value);
      if (!decoded) throw invalidValue(`_page "${value}" is not a page of this search`);
      request.cursor = decoded;
      return true;
    }
    case '_type': {
      const named = value.split(',');
      const unknown = named.filter((t) => !isResourceType(t));
      if (unknown.length) throw invalidValue(`_type: ${unknown.join(', ')} is not a resource type`);
      request.types = [...new Set([...(request.types ?? []), ...named])];
      request.linkParams.append(name, value);
      return true;
    }
    case '_format':
    case '_pretty':
      request.linkParams.append(name, value);
      return true;
    default:
      return false;
  }
}

/** Runs the page and answers it as a searchset Bundle with self and next links under `linkBase`. */
export async function multiTypeResponse(q: Queryable, baseUrl: string, queries: TypeQuery[], request: MultiTypeRequest, linkBase: string): Promise<string> {
  const { entries, next } = await multiTypePage(q, baseUrl, queries, request.count, request.cursor);
  const url = (page?: TypeCursor) => {
    const search = new URLSearchParams(request.linkParams);
    search.set('_count', String(request.count));
    if (page) search.set('_page', encodeTypeCursor(page));
    return `${linkBase}?${search}`;
  };
  const { cursor } = request;
  const links = [{ relation: 'self', url: url(cursor.typeIndex || cursor.afterId ? cursor : undefined) }];
  if (next) links.push({ relation: 'next', url: url(next) });
  return multiTypeBundle(entries, links);
}
