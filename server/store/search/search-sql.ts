// SQL of a search over one resource table: conditions, a stable order (the requested keys, then
// id), keyset paging so that pages never shift when other requests write, and counts.
import type { Queryable } from '../database.js';
import { tableName } from '../schema.js';
import { and, type Condition, type SortExpression } from './condition.js';
import { Binder, columnSql, conditionSql } from './condition-sql.js';

export interface SearchPage {
  /** Values of the sort keys and the id of the row the page continues from. */
  after?: unknown[];
  /** The same, for a previous page: rows before this one. */
  before?: unknown[];
}

export interface SearchSpec {
  resourceType: string;
  conditions: Condition[];
  sort: SortExpression[];
  count: number;
  page?: SearchPage;
  /** Which rows: resources (the default), contained resources, or both (`_contained`). */
  contained?: 'false' | 'true' | 'both';
}

export interface SearchRow {
  id: string;
  content: string;
  /** Sort key values of the row, then its id: a cursor for the page after or before it. */
  key: unknown[];
}

// Missing values sort last in both directions; sentinels make every key comparable for paging.
const LAST = { text: '\u{10FFFF}', timestamptz: 'infinity', numeric: 'Infinity' };
const FIRST = { text: '', timestamptz: '-infinity', numeric: '-Infinity' };

function keyExpression(sort: SortExpression): string {
  const column = columnSql(sort.column);
  const value = sort.array ? `(SELECT min(v) FROM unnest(${column}) AS v)` : column;
  const sentinel = (sort.descending ? FIRST : LAST)[sort.sqlType];
  return `COALESCE(${value}, '${sentinel}'::${sort.sqlType})`;
}

function whereSql(spec: SearchSpec, binder: Binder): string {
  const conditions = spec.conditions.length ? [conditionSql(and(spec.conditions), binder)] : [];
  const rows = { false: ['r.contained_in IS NULL'], true: ['r.contained_in IS NOT NULL'], both: [] }[spec.contained ?? 'false'];
  return ['NOT r.deleted', ...rows, ...conditions].join(' AND ');
}

/** (k1, k2, …, id) after/before the cursor, each key in its own direction. */
function keysetSql(keys: { sql: string; descending: boolean; sqlType: string }[], cursor: unknown[], forward: boolean, binder: Binder): string {
  const alternatives: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const equal = keys.slice(0, i).map((k, j) => `${k.sql} = ${binder.bind(cursor[j], `::${k.sqlType}`)}`);
    const greater = keys[i].descending !== forward;
    equal.push(`${keys[i].sql} ${greater ? '>' : '<'} ${binder.bind(cursor[i], `::${keys[i].sqlType}`)}`);
    alternatives.push(`(${equal.join(' AND ')})`);
  }
  return `(${alternatives.join(' OR ')})`;
}

export async function searchRows(q: Queryable, spec: SearchSpec): Promise<SearchRow[]> {
  const binder = new Binder();
  const keys = [
    ...spec.sort.map((s) => ({ sql: keyExpression(s), descending: s.descending, sqlType: s.sqlType })),
    { sql: 'r.id', descending: spec.sort.length ? spec.sort[spec.sort.length - 1].descending : false, sqlType: 'text' },
  ];
  let where = whereSql(spec, binder);
  const backwards = Boolean(spec.page?.before);
  const cursor = spec.page?.after ?? spec.page?.before;
  if (cursor) {
    if (cursor.length !== keys.length) throw new Error('cursor does not fit the sort');
    where += ` AND ${keysetSql(keys, cursor, !backwards, binder)}`;
  }
  const order = keys.map((k) => `${k.sql} ${k.descending !== backwards ? 'DESC' : 'ASC'}`).join(', ');
  const select = keys.map((k, i) => `${k.sql} AS k${i}`).join(', ');
  const sql = `SELECT r.id, r.content, ${select} FROM ${tableName(spec.resourceType)} r WHERE ${where} ORDER BY ${order} LIMIT ${binder.bind(spec.count + 1)}`;
  const result = await q.query<Record<string, unknown> & { id: string; content: string }>(sql, binder.params);
  const rows = result.rows.map((row) => ({ id: row.id, content: row.content, key: keys.map((_, i) => row[`k${i}`]) }));
  return rows;
}

export async function countRows(q: Queryable, spec: SearchSpec, estimate: boolean): Promise<number> {
  const binder = new Binder();
  const from = `FROM ${tableName(spec.resourceType)} r WHERE ${whereSql(spec, binder)}`;
  if (estimate) {
    const plan = await q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) SELECT 1 ${from}`, binder.params);
    const json = plan.rows[0]['QUERY PLAN'];
    const parsed = (typeof json === 'string' ? JSON.parse(json) : json) as { Plan: { 'Plan Rows': number } }[];
    return Math.round(parsed[0].Plan['Plan Rows']);
  }
  const result = await q.query<{ count: string | number }>(`SELECT count(*) AS count ${from}`, binder.params);
  return Number(result.rows[0].count);
}

/** Resources of a type by id that also meet `restriction` (for _include), in no particular order. */
export async function readByIds(q: Queryable, resourceType: string, ids: string[], restriction?: Condition): Promise<{ id: string; content: string }[]> {
  return readWhere(q, resourceType, [{ kind: 'in', column: { row: 'id' }, values: ids }, ...(restriction ? [restriction] : [])]);
}

/** Resources of a type whose reference column holds any of `keys` and that meet `restriction` (for _revinclude). */
export async function readReferencing(q: Queryable, resourceType: string, referenceColumn: string, keys: string[], limit: number, restriction?: Condition): Promise<{ id: string; content: string }[]> {
  return readWhere(q, resourceType, [{ kind: 'overlap', column: { search: referenceColumn }, keys }, ...(restriction ? [restriction] : [])], limit);
}

async function readWhere(q: Queryable, resourceType: string, conditions: Condition[], limit?: number): Promise<{ id: string; content: string }[]> {
  const binder = new Binder();
  const where = conditionSql(and(conditions), binder);
  const result = await q.query<{ id: string; content: string }>(
    `SELECT r.id, r.content FROM ${tableName(resourceType)} r WHERE NOT r.deleted AND r.contained_in IS NULL AND ${where}${limit === undefined ? '' : ` LIMIT ${binder.bind(limit)}`}`,
    binder.params,
  );
  return result.rows;
}
