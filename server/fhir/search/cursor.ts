// The `_page` token of search links: the sort keys of the row a page continues from.
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
