// SQL for filling in the patient compartment of versions written before Kiln recorded it
// (schema migration 7): which rows lack it, and writing it batch by batch.
import type { Queryable } from './database.js';
import { tableName } from './schema.js';

/** Whether any version still lacks its patient compartment (answered by a partial index). */
export async function compartmentsPending(q: Queryable): Promise<boolean> {
  const result = await q.query('SELECT 1 FROM resource_history WHERE patient_compartment IS NULL LIMIT 1');
  return result.rows.length > 0;
}

export interface PendingVersion {
  resourceType: string;
  id: string;
  versionId: number;
  content: string | null;
}

/** History rows without a compartment, each resource's versions in order. */
export async function pendingHistory(q: Queryable, limit: number): Promise<PendingVersion[]> {
  const result = await q.query<{ resource_type: string; id: string; version_id: number; content: string | null }>(
    `SELECT resource_type, id, version_id, content FROM resource_history WHERE patient_compartment IS NULL
     ORDER BY resource_type, id, version_id LIMIT $1`,
    [limit],
  );
  return result.rows.map((row) => ({ resourceType: row.resource_type, id: row.id, versionId: row.version_id, content: row.content }));
}

/** The compartment of a resource's latest version before `versionId` that has one. */
export async function earlierCompartment(q: Queryable, resourceType: string, id: string, versionId: number): Promise<string[]> {
  const result = await q.query<{ patient_compartment: string[] | null }>(
    `SELECT patient_compartment FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id < $3
     AND patient_compartment IS NOT NULL ORDER BY version_id DESC LIMIT 1`,
    [resourceType, id, versionId],
  );
  return result.rows[0]?.patient_compartment ?? [];
}

export async function setHistoryCompartments(q: Queryable, rows: (PendingVersion & { patients: string[] })[]): Promise<void> {
  if (!rows.length) return;
  await q.query(
    `UPDATE resource_history h SET patient_compartment = ARRAY(SELECT jsonb_array_elements_text(v.patients))
     FROM jsonb_to_recordset($1::jsonb) AS v (resource_type text, id text, version_id int, patients jsonb)
     WHERE h.resource_type = v.resource_type AND h.id = v.id AND h.version_id = v.version_id`,
    [JSON.stringify(rows.map((r) => ({ resource_type: r.resourceType, id: r.id, version_id: r.versionId, patients: r.patients })))],
  );
}

/**
 * Current rows take the compartment of their version in history; contained rows, that of their
 * container. Run after the history is filled.
 */
export async function copyCompartmentsToCurrentRows(q: Queryable, resourceType: string): Promise<void> {
  const table = tableName(resourceType);
  await q.query(
    `UPDATE ${table} r SET patient_compartment = h.patient_compartment FROM resource_history h
     WHERE r.patient_compartment IS NULL AND r.contained_in IS NULL AND h.resource_type = $1 AND h.id = r.id AND h.version_id = r.version_id`,
    [resourceType],
  );
  await q.query(
    `UPDATE ${table} r SET patient_compartment = COALESCE(h.patient_compartment, '{}') FROM resource_history h
     WHERE r.patient_compartment IS NULL AND r.contained_in IS NOT NULL
     AND h.resource_type = split_part(r.contained_in, '/', 1) AND h.id = split_part(r.contained_in, '/', 2)
     AND h.version_id = (SELECT max(version_id) FROM resource_history m WHERE m.resource_type = h.resource_type AND m.id = h.id)`,
  );
}
