// The rows Kiln's own create stores for a resource, computed with Kiln's own functions: the JSON
// text with id and meta (splitContent + joinContent, as server/fhir/version-write.ts does) and
// every search column (indexValues). Gathered column-wise for one INSERT … SELECT FROM unnest(…).
import type { Resource } from '@medplum/fhirtypes';
import { indexValues } from '../../resources/search/index-values.js';
import { patientMembership } from '../../resources/patient-compartment.js';
import { searchColumnTypes } from '../../server/store/schema.js';
import { joinContent, splitContent } from '../../server/fhir/stored-content.js';

/**
 * A batch of rows as SQL parameters, one array per column: ids, last_updated (ISO text), content,
 * then each search column in `columns` order. text[] columns travel as array literals (the text
 * `pg` would send for the array), because unnest cannot return one array per row.
 */
export interface RowBatch {
  resourceType: string;
  count: number;
  ids: string[];
  lastUpdated: string[];
  content: string[];
  /** The patients each row belongs to, as array literals. */
  patientCompartment: (string | null)[];
  columns: string[];
  values: unknown[][];
}

/** The array literal `pg` sends for a JS array of strings (lib/utils.js arrayString). */
export function arrayLiteral(values: readonly unknown[] | null | undefined): string | null {
  if (values === null || values === undefined) return null;
  return `{${values.map((v) => (v === null || v === undefined ? 'NULL' : `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)).join(',')}}`;
}

/** Search column names of a type with their SQL types, in a fixed order. */
export function searchColumns(resourceType: string): [string, string][] {
  return [...searchColumnTypes(resourceType).entries()].sort(([a], [b]) => a.localeCompare(b));
}

/**
 * Rows for new resources (version 1), exactly as Kiln's create writes them, with `lastUpdated`
 * standing in for the database clock (to the millisecond, like Kiln's).
 */
export function storedRows(resourceType: string, resources: Resource[], ids: string[], lastUpdated: Date, baseUrl: string): RowBatch {
  const columns = searchColumns(resourceType);
  const batch: RowBatch = {
    resourceType,
    count: resources.length,
    ids,
    lastUpdated: [],
    content: [],
    patientCompartment: [],
    columns: columns.map(([name]) => name),
    values: columns.map(() => []),
  };
  const at = new Date(Math.floor(lastUpdated.getTime()));
  const instant = at.toISOString();
  resources.forEach((resource, r) => {
    const id = ids[r];
    // As prepare() in server/fhir/version-write.ts.
    const split = splitContent(resource, id, 1);
    const row = indexValues({ ...resource, id } as Resource);
    batch.lastUpdated.push(instant);
    batch.content.push(joinContent(split, at));
    batch.patientCompartment.push(arrayLiteral(patientMembership({ ...resource, id } as Resource, row, baseUrl).patients));
    columns.forEach(([name, sqlType], c) => {
      const value = row[name] ?? null;
      if (value === null) batch.values[c].push(null);
      else if (sqlType === 'text[]') batch.values[c].push(arrayLiteral(value as unknown[]));
      else if (value instanceof Date) batch.values[c].push(value.toISOString());
      else batch.values[c].push(value);
    });
  });
  return batch;
}
