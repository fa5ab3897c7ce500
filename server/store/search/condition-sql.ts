// Turns search conditions into SQL over one resource table (alias `r`), binding every value.
import { boundedKey } from '../../../resources/search/bounded-keys.js';
import { columnName, tableName } from '../schema.js';
import type { Column, Condition } from './condition.js';

export class Binder {
  readonly params: unknown[] = [];
  bind(value: unknown, cast = ''): string {
    this.params.push(value);
    return `$${this.params.length}${cast}`;
  }
}

let aliasCounter = 0;

function escapeLikeText(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The keys to look for in a column: a search column holds long keys bounded (bounded-keys.ts), so
 * a long key is looked for in that form too; also as it is, since rows written before keys were
 * bounded hold it whole. Items of a composite's jsonb keep their keys whole.
 */
function searchKeys(column: Column, keys: string[]): string[] {
  if (!('search' in column)) return keys;
  const bounded = keys.map(boundedKey).filter((key, i) => key !== keys[i]);
  return bounded.length ? [...keys, ...bounded] : keys;
}

export function columnSql(column: Column, alias = 'r'): string {
  if ('row' in column) return `${alias}.${column.row}`;
  if ('element' in column) {
    const field = `${column.element}->${quoteLiteral(column.field)}`;
    if (column.sqlType === 'text[]') return `ARRAY(SELECT jsonb_array_elements_text(${field}))`;
    return `(${column.element}->>${quoteLiteral(column.field)})::${column.sqlType}`;
  }
  return `${alias}.${columnName(column.search)}`;
}

/** Field names come from the parameter registry (`0`, `1:lo`), never from a request. */
function quoteLiteral(text: string): string {
  if (!/^[0-9]+(:[a-z]+)?$/.test(text)) throw new Error(`not a composite field: ${text}`);
  return `'${text}'`;
}

export function conditionSql(condition: Condition, binder: Binder, alias = 'r'): string {
  switch (condition.kind) {
    case 'overlap':
      return `${columnSql(condition.column, alias)} && ${binder.bind(searchKeys(condition.column, condition.keys), '::text[]')}`;
    case 'like-any':
      return `EXISTS (SELECT 1 FROM unnest(${columnSql(condition.column, alias)}) AS v WHERE v LIKE ANY (${binder.bind(condition.patterns, '::text[]')}))`;
    case 'prefix-of-any':
      return `EXISTS (SELECT 1 FROM unnest(${columnSql(condition.column, alias)}) AS v, unnest(${binder.bind(condition.values, '::text[]')}) AS s WHERE s LIKE replace(replace(replace(v, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')`;
    case 'compare': {
      const cast = condition.value instanceof Date ? '::timestamptz' : typeof condition.value === 'number' ? '::numeric' : '::text';
      return `${columnSql(condition.column, alias)} ${condition.op} ${binder.bind(condition.value, cast)}`;
    }
    case 'missing':
      return `${columnSql(condition.column, alias)} IS ${condition.missing ? '' : 'NOT '}NULL`;
    case 'in':
      return `${columnSql(condition.column, alias)} = ANY (${binder.bind(condition.values, '::text[]')})`;
    case 'and':
    case 'or':
      return `(${condition.conditions.map((c) => conditionSql(c, binder, alias)).join(condition.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `NOT COALESCE(${conditionSql(condition.condition, binder, alias)}, false)`;
    case 'near': {
      const lat = columnSql(condition.latitude, alias);
      const long = columnSql(condition.longitude, alias);
      const { latitude, longitude } = condition.point;
      // A box around the point lets the btree indexes narrow the rows; the haversine formula decides.
      const dLat = condition.kilometres / 111.2;
      const dLong = condition.kilometres / Math.max(111.2 * Math.cos((latitude * Math.PI) / 180), 0.001);
      const p = {
        lat: binder.bind(latitude, '::float8'),
        long: binder.bind(longitude, '::float8'),
        km: binder.bind(condition.kilometres, '::float8'),
      };
      return `(${lat} BETWEEN ${binder.bind(latitude - dLat, '::numeric')} AND ${binder.bind(latitude + dLat, '::numeric')}
        AND ${long} BETWEEN ${binder.bind(longitude - dLong, '::numeric')} AND ${binder.bind(longitude + dLong, '::numeric')}
        AND 2 * 6371.0088 * asin(sqrt(power(sin(radians((${lat}::float8 - ${p.lat}) / 2)), 2)
          + cos(radians(${p.lat})) * cos(radians(${lat}::float8)) * power(sin(radians((${long}::float8 - ${p.long}) / 2)), 2))) <= ${p.km})`;
    }
    case 'full-text': {
      // Not indexed: an index over every resource's text would tax every write for a rare search.
      const text =
        condition.target === 'content'
          ? `${alias}.content`
          : `regexp_replace(coalesce((${alias}.content::jsonb) #>> '{text,div}', ''), '<[^>]*>', ' ', 'g')`;
      return `to_tsvector('simple', ${text}) @@ websearch_to_tsquery('simple', ${binder.bind(condition.query, '::text')})`;
    }
    case 'listed-in': {
      const relative = `${condition.resourceType}/`;
      const absolute = `${condition.baseUrl}/${condition.resourceType}/`;
      const list = `l${++aliasCounter % 1000}`;
      const where = condition.where ? ` AND ${conditionSql(condition.where, binder, list)}` : '';
      return `${alias}.id IN (SELECT split_part(k, '/', -1) FROM "List" ${list}, unnest(${list}."item") AS k
        WHERE ${list}.id = ${binder.bind(condition.listId, '::text')} AND NOT ${list}.deleted${where}
        AND (k LIKE ${binder.bind(`${escapeLikeText(relative)}%`, '::text')} OR k LIKE ${binder.bind(`${escapeLikeText(absolute)}%`, '::text')}))`;
    }
    case 'none':
      return 'false';
    case 'any-item': {
      const item = `e`;
      const prefilter = condition.containing === undefined ? '' : `${alias}.${columnName(condition.column)} @> ${binder.bind(JSON.stringify(condition.containing), '::jsonb')} AND `;
      return `(${prefilter}EXISTS (SELECT 1 FROM jsonb_array_elements(${alias}.${columnName(condition.column)}) AS ${item} WHERE ${conditionSql(condition.where, binder, alias)}))`;
    }
    case 'referenced-by': {
      // Uncorrelated: the referring rows are found once, then joined on this table's primary key.
      const other = `h${++aliasCounter % 1000}`;
      const relative = `${condition.targetType}/`;
      const absolute = `${condition.baseUrl}/${condition.targetType}/`;
      return `${alias}.id IN (SELECT split_part(k, '/', -1) FROM ${tableName(condition.resourceType)} ${other}, unnest(${other}.${columnName(condition.referenceColumn)}) AS k
        WHERE NOT ${other}.deleted AND (k LIKE ${binder.bind(`${escapeLikeText(relative)}%`, '::text')} OR k LIKE ${binder.bind(`${escapeLikeText(absolute)}%`, '::text')})
        AND ${conditionSql(condition.where, binder, other)})`;
    }
    case 'references': {
      // Uncorrelated: the matching targets are found once, then looked up in this row's GIN-indexed column.
      const other = `c${++aliasCounter % 1000}`;
      const relative = binder.bind(`${condition.resourceType}/`, '::text');
      const absolute = binder.bind(`${condition.baseUrl}/${condition.resourceType}/`, '::text');
      return `${columnSql(condition.column, alias)} && ARRAY(SELECT unnest(ARRAY[${relative} || ${other}.id, ${absolute} || ${other}.id]) FROM ${tableName(condition.resourceType)} ${other}
        WHERE NOT ${other}.deleted AND ${conditionSql(condition.where, binder, other)})`;
    }
  }
}
