// Search conditions decided for resource versions that are not the current row of their table (an
// earlier version in history, a version about to be written): each version's search values are
// laid out as a row of the type's table, and the very SQL a search runs decides, so the answer has
// exactly the semantics of Kiln's search.
import type { Queryable } from '../database.js';
import { searchColumnTypes, tableName } from '../schema.js';
import type { Condition } from './condition.js';
import { Binder, conditionSql } from './condition-sql.js';

export interface VersionValues {
  id: string;
  /** The resource as JSON text (for _content and _text). */
  content: string;
  lastUpdated: Date;
  patientCompartment: string[];
  /** Search column values, as a write computes them. */
  columns: Record<string, unknown>;
}

/** JSON cannot carry a Date or an infinity, and a composite column is JSON already (as text). */
function jsonValue(value: unknown, sqlType: string | undefined): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  if (sqlType === 'jsonb' && typeof value === 'string') return JSON.parse(value) as unknown;
  return value;
}

/** For each version, whether it meets `condition`. */
export async function versionsMatching(q: Queryable, resourceType: string, versions: VersionValues[], condition: Condition): Promise<boolean[]> {
  return (await versionsMatchingEach(q, resourceType, versions, [condition])).map((hits) => hits[0]);
}

/**
 * For each version, which of `conditions` it meets (result[version][condition]), in one query: the
 * subscriptions consumer decides every subscription's criteria for a batch of changes at once.
 */
export async function versionsMatchingEach(q: Queryable, resourceType: string, versions: VersionValues[], conditions: Condition[]): Promise<boolean[][]> {
  if (!versions.length) return [];
  if (!conditions.length) return versions.map(() => []);
  const types = searchColumnTypes(resourceType);
  const rows = versions.map((version, index) => {
    const row: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(version.columns)) row[name] = jsonValue(value, types.get(name));
    // version_id carries the position: no condition reads it, and the id must stay the real one (_id).
    return { ...row, id: version.id, version_id: index, content: version.content, last_updated: version.lastUpdated.toISOString(), deleted: false, patient_compartment: version.patientCompartment };
  });
  const binder = new Binder();
  const records = binder.bind(JSON.stringify(rows), '::jsonb');
  // A condition that is unknown (NULL) for a row does not match it, as in a WHERE clause.
  const hits = conditions.map((condition) => `COALESCE((${conditionSql(condition, binder)}), false)`).join(', ');
  const result = await q.query<{ position: number; hits: boolean[] | string }>(
    `SELECT r.version_id AS position, ARRAY[${hits}]::boolean[] AS hits FROM jsonb_populate_recordset(NULL::${tableName(resourceType)}, ${records}) r`,
    binder.params,
  );
  const answers: boolean[][] = versions.map(() => conditions.map(() => false));
  for (const row of result.rows) answers[Number(row.position)] = parseBooleans(row.hits);
  return answers;
}

/** A boolean[] column: an array from pg and PGlite, or its text form `{t,f}`. */
function parseBooleans(value: boolean[] | string): boolean[] {
  if (Array.isArray(value)) return value.map((v) => v === true);
  return value.replace(/^\{|\}$/g, '').split(',').map((v) => v === 't' || v === 'true');
}
