// The `_page` token of search links: the sort keys of the row a page continues from. A client can
// send any token, so one is used only when each of its values is one its sort key can hold.
import type { SortExpression } from '../../store/search/condition.js';
import type { SearchPage } from '../../store/search/search-sql.js';

function portable(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value === Infinity) return 'infinity';
  if (value === -Infinity) return '-infinity';
  return value;
}

export function encodeCursor(direction: 'after' | 'before', key: unknown[]): string {
  return Buffer.from(JSON.stringify([direction, key.map(portable)])).toString('base64url');
}

export function decodeCursor(text: string): SearchPage | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (!Array.isArray(value) || value.length !== 2 || !Array.isArray(value[1])) return undefined;
    const [direction, key] = value as [unknown, unknown[]];
    if (!key.every((k) => typeof k === 'string' || typeof k === 'number' || k === null)) return undefined;
    if (direction === 'after') return { after: key };
    if (direction === 'before') return { before: key };
    return undefined;
  } catch {
    return undefined;
  }
}

// The instants a timestamptz key holds: those of FHIR dates (years 1 to 9999) and the sentinels.
const INSTANT = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$/;
const DECIMAL = /^[+-]?[0-9]{1,40}(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?$/;
const SENTINELS = new Set(['infinity', '-infinity', 'Infinity', '-Infinity']);

function fitsType(value: unknown, sqlType: SortExpression['sqlType']): boolean {
  switch (sqlType) {
    case 'text':
      return typeof value === 'string' && !value.includes('\u0000');
    case 'timestamptz':
      return typeof value === 'string' && (SENTINELS.has(value) || (INSTANT.test(value) && !Number.isNaN(Date.parse(value))));
    case 'numeric':
      return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && (SENTINELS.has(value) || DECIMAL.test(value)));
  }
}

/** Whether a cursor's key has one value per sort key, then the id, each of a type that key holds. */
export function cursorFits(key: unknown[], sort: SortExpression[]): boolean {
  if (key.length !== sort.length + 1) return false;
  return sort.every((s, i) => fitsType(key[i], s.sqlType)) && fitsType(key[sort.length], 'text') && (key[sort.length] as string).length <= 200;
}
