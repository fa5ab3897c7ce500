// Pages of results that span several resource types (system search, $everything, Patient/{id}/*):
// types in a fixed order, each by id, with a (type, id) cursor so a client can follow next links
// to the end without repeats.
import type { Condition } from '../../store/search/condition.js';
import { searchRows } from '../../store/search/search-sql.js';
import type { Queryable } from '../../store/database.js';

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

export async function multiTypePage(q: Queryable, baseUrl: string, queries: TypeQuery[], count: number, cursor: TypeCursor): Promise<MultiTypePage> {
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

export function encodeTypeCursor(cursor: TypeCursor): string {
  return Buffer.from(JSON.stringify([cursor.typeIndex, cursor.afterId ?? null])).toString('base64url');
}

export function decodeTypeCursor(text: string): TypeCursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2 || !Number.isInteger(value[0]) || value[0] < 0) return undefined;
    if (value[1] !== null && typeof value[1] !== 'string') return undefined;
    return { typeIndex: value[0] as number, afterId: (value[1] as string | null) ?? undefined };
  } catch {
    return undefined;
  }
}

/** The searchset Bundle text of one such page. */
export function multiTypeBundle(entries: string[], links: { relation: string; url: string }[]): string {
  const head = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', link: links });
  return `${head.slice(0, -1)}${entries.length ? `,"entry":[${entries.join(',')}]` : ''}}`;
}
