// Turns search conditions into SQL over one resource table (alias `r`), binding every value.
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

export function columnSql(column: Column, alias = 'r'): string {
  return 'row' in column ? `${alias}.${column.row}` : `${alias}.${columnName(column.search)}`;
}

export function conditionSql(condition: Condition, binder: Binder, alias = 'r'): string {
  switch (condition.kind) {
    case 'overlap':
      return `${columnSql(condition.column, alias)} && ${binder.bind(condition.keys, '::text[]')}`;
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
    case 'referenced-by': {
      // Uncorrelated: the referring rows are found once, then joined on this table's primary key.
      const other = `h${++aliasCounter % 1000}`;
      const prefix = `${condition.targetType}/`;
      return `${alias}.id IN (SELECT substr(k, ${prefix.length + 1}) FROM ${tableName(condition.resourceType)} ${other}, unnest(${other}.${columnName(condition.referenceColumn)}) AS k
        WHERE NOT ${other}.deleted AND k LIKE ${binder.bind(`${prefix}%`, '::text')} AND ${conditionSql(condition.where, binder, other)})`;
    }
    case 'references': {
      // Uncorrelated: the matching targets are found once, then looked up in this row's GIN-indexed column.
      const other = `c${++aliasCounter % 1000}`;
      return `${columnSql(condition.column, alias)} && ARRAY(SELECT ${binder.bind(`${condition.resourceType}/`, '::text')} || ${other}.id FROM ${tableName(condition.resourceType)} ${other}
        WHERE NOT ${other}.deleted AND ${conditionSql(condition.where, binder, other)})`;
    }
  }
}
