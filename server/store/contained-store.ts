// SQL for contained resources (hl7.org/fhir/R4/references.html#contained): each one is a row of
// its own type's table, id `Container/id#localId`, marked with its container and never current
// on its own; it is replaced whenever its container changes.
import type { Queryable } from './database.js';
import { columnName, searchColumnTypes, tableName } from './schema.js';

export interface ContainedRow {
  resourceType: string;
  localId: string;
  content: string;
  columns: Record<string, unknown>;
  /** A contained resource belongs to the patients its container belongs to. */
  patientCompartment: string[];
}

/** Removes the contained rows of `container` from the given types' tables. */
export async function deleteContained(tx: Queryable, container: string, types: Iterable<string>): Promise<void> {
  for (const type of new Set(types)) {
    await tx.query(`DELETE FROM ${tableName(type)} WHERE contained_in = $1`, [container]);
  }
}

export async function insertContained(tx: Queryable, container: string, row: ContainedRow): Promise<void> {
  const codes = Object.keys(row.columns);
  const types = searchColumnTypes(row.resourceType);
  const params: unknown[] = [`${container}#${row.localId}`, row.content, container, row.patientCompartment, ...codes.map((code) => row.columns[code])];
  const columns = codes.map(columnName);
  const values = codes.map((code, i) => `$${i + 5}::${types.get(code) ?? 'text'}`);
  await tx.query(
    `INSERT INTO ${tableName(row.resourceType)} (id, version_id, last_updated, deleted, content, contained_in, patient_compartment${columns.map((c) => `, ${c}`).join('')})
     VALUES ($1, 1, now(), false, $2, $3, $4::text[]${values.map((v) => `, ${v}`).join('')})`,
    params,
  );
}
