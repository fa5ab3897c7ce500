// SQL for the current version of resources and for writing new versions
// (FHIR R4 §3.1.0.2-3.1.0.7: read, vread, update, delete; hl7.org/fhir/R4/http.html).
import { batchLoader, loaderCache } from './batching.js';
import type { FeedActor } from './change-feed.js';
import type { Database, Queryable } from './database.js';
import { columnName, tableName } from './schema.js';

export interface StoredVersion {
  id: string;
  versionId: number;
  lastUpdated: Date;
  deleted: boolean;
  /** The resource as JSON text exactly as stored; null for a deletion. */
  content: string | null;
  /** Ids of the patients this version belongs to (a deletion keeps those of the version it ends). */
  patientCompartment: string[];
}

interface VersionRow {
  id: string;
  version_id: number;
  last_updated: Date;
  deleted: boolean;
  content: string | null;
  patient_compartment: string[] | null;
}

const VERSION_COLUMNS = 'id, version_id, last_updated, deleted, content, patient_compartment';

const toStored = (row: VersionRow): StoredVersion => ({
  id: row.id,
  versionId: row.version_id,
  lastUpdated: row.last_updated,
  deleted: row.deleted,
  content: row.content,
  patientCompartment: row.patient_compartment ?? [],
});

export async function readCurrent(q: Queryable, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const result = await q.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM ${tableName(resourceType)} WHERE id = $1 AND contained_in IS NULL`,
    [id],
  );
  return result.rows[0] && toStored(result.rows[0]);
}

const currentLoader = loaderCache((db, resourceType) =>
  batchLoader<string, StoredVersion | undefined>(async (ids) => {
    const result = await db.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM ${tableName(resourceType)} WHERE id = ANY($1::text[])`,
      [ids],
    );
    const byId = new Map(result.rows.map((row) => [row.id, toStored(row)]));
    return ids.map((id) => byId.get(id));
  }),
);

/** readCurrent outside a transaction, sharing one query with concurrent reads of the same type. */
export function readCurrentBatched(db: Database, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  return currentLoader(db, resourceType).load(id);
}

/** Reads and locks the current row until the transaction ends, so version checks cannot race. */
export async function lockCurrent(tx: Queryable, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const result = await tx.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM ${tableName(resourceType)} WHERE id = $1 AND contained_in IS NULL FOR UPDATE`,
    [id],
  );
  return result.rows[0] && toStored(result.rows[0]);
}

export async function readVersion(
  q: Queryable,
  resourceType: string,
  id: string,
  versionId: number,
): Promise<StoredVersion | undefined> {
  const result = await q.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM resource_history WHERE resource_type = $1 AND id = $2 AND version_id = $3`,
    [resourceType, id, versionId],
  );
  return result.rows[0] && toStored(result.rows[0]);
}

/** Which of `ids` exist (and are not deleted) in the table of `resourceType`; with `patient`, only those in that patient's compartment. */
export async function existingIds(q: Queryable, resourceType: string, ids: string[], patient?: string): Promise<Set<string>> {
  const result = await q.query<{ id: string }>(
    `SELECT id FROM ${tableName(resourceType)} WHERE id = ANY($1::text[]) AND NOT deleted AND contained_in IS NULL${patient === undefined ? '' : ' AND patient_compartment && ARRAY[$2::text]'}`,
    patient === undefined ? [ids] : [ids, patient],
  );
  return new Set(result.rows.map((row) => row.id));
}

/** The patients the current version of a resource belongs to (empty when it does not exist). */
export async function currentPatientCompartment(q: Queryable, resourceType: string, id: string): Promise<string[]> {
  const result = await q.query<{ patient_compartment: string[] | null }>(
    `SELECT patient_compartment FROM ${tableName(resourceType)} WHERE id = $1 AND NOT deleted AND contained_in IS NULL`,
    [id],
  );
  return result.rows[0]?.patient_compartment ?? [];
}

const existsLoader = loaderCache((db, resourceType) =>
  batchLoader<string, boolean>(async (ids) => {
    const found = await existingIds(db, resourceType, [...new Set(ids)]);
    return ids.map((id) => found.has(id));
  }),
);

/** existingIds outside a transaction, sharing one query with concurrent checks of the same type. */
export async function existingIdsBatched(db: Database, resourceType: string, ids: string[]): Promise<Set<string>> {
  const found = await existsLoader(db, resourceType).loadMany(ids);
  const failure = found.find((value) => value instanceof Error);
  if (failure) throw failure;
  return new Set(ids.filter((_, i) => found[i] === true));
}

export async function existingVersions(q: Queryable, resourceType: string, refs: { id: string; versionId: number }[], patient?: string): Promise<Set<string>> {
  const result = await q.query<{ id: string; version_id: number }>(
    `SELECT id, version_id FROM resource_history WHERE resource_type = $1 AND (id, version_id) IN (SELECT * FROM unnest($2::text[], $3::int[])) AND NOT deleted${
      patient === undefined ? '' : ' AND patient_compartment && ARRAY[$4::text]'
    }`,
    [resourceType, refs.map((r) => r.id), refs.map((r) => r.versionId), ...(patient === undefined ? [] : [patient])],
  );
  return new Set(result.rows.map((row) => `${row.id}/${row.version_id}`));
}

export interface VersionWrite {
  resourceType: string;
  id: string;
  versionId: number;
  /** True when no row exists yet for this id (a create, or an update that creates). */
  isNew: boolean;
  deleted: boolean;
  /** The request as it was made, kept for history bundles: `POST Patient`, `PUT Patient/1`. */
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /**
   * The resource JSON split around the value of `meta.lastUpdated`, which the database clock
   * fills in, so that the stored text and the timestamp column always agree.
   */
  contentHead: string | null;
  contentTail: string | null;
  /** Search column values by parameter code (null when absent). */
  columns: Record<string, unknown>;
  /** Ids of the patients this version belongs to. */
  patientCompartment: string[];
  /** Who wrote it, recorded in the change feed. */
  actor?: FeedActor | null;
}

/** FHIR instant text of a timestamptz, to the millisecond, in UTC (same as Date.toISOString). */
export const INSTANT_SQL = `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** What the change feed records a version as: one of a fixed three words, written into the SQL. */
function feedInteraction(write: VersionWrite): 'create' | 'update' | 'delete' {
  if (write.deleted) return 'delete';
  return write.isNew ? 'create' : 'update';
}

/**
 * Writes one version: the current row, its history row and its change-feed row
 * (server/store/change-feed.ts) in a single statement, so a create needs one round trip and no
 * explicit transaction. Returns the database time of the write.
 */
export async function writeVersion(q: Queryable, write: VersionWrite): Promise<Date> {
  const table = tableName(write.resourceType);
  const codes = Object.keys(write.columns);
  const params: unknown[] = [
    write.id,
    write.versionId,
    write.deleted,
    write.contentHead,
    write.contentTail,
    write.resourceType,
    write.method,
    write.url,
    write.patientCompartment,
    ...codes.map((code) => write.columns[code]),
  ];
  const columnList = codes.map(columnName);
  const columnParams = codes.map((_, i) => `$${i + 10}`);
  const current = write.isNew
    ? `INSERT INTO ${table} (id, version_id, last_updated, deleted, content, patient_compartment${columnList.map((c) => `, ${c}`).join('')})
         SELECT $1, $2, ts, $3, content, $9::text[]${columnParams.map((p) => `, ${p}`).join('')} FROM c`
    : `UPDATE ${table} SET version_id = $2, last_updated = c.ts, deleted = $3, content = c.content, patient_compartment = $9::text[]${columnList
        .map((c, i) => `, ${c} = ${columnParams[i]}`)
        .join('')}
         FROM c WHERE ${table}.id = $1`;
  const sql = `
    WITH t AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS ts),
    c AS (SELECT ts, CASE WHEN $4::text IS NULL THEN NULL ELSE $4::text || ${INSTANT_SQL} || $5::text END AS content FROM t),
    cur AS (${current}),
    feed AS (INSERT INTO kiln_change (resource_type, id, version_id, interaction, actor) VALUES ($6, $1, $2, '${feedInteraction(write)}', $${params.length + 1}::jsonb))
    INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, method, url, content, patient_compartment)
      SELECT $6, $1, $2, ts, $3, $7, $8, content, $9::text[] FROM c
    RETURNING last_updated`;
  const result = await q.query<{ last_updated: Date }>(sql, [...params, write.actor ? JSON.stringify(write.actor) : null]);
  return result.rows[0].last_updated;
}
