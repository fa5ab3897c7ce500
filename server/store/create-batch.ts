// Group commit for creates (POST with a server id): concurrent creates of one resource type are
// written by a single statement, one commit for all. Each create is still all-or-nothing; if the
// shared statement fails, every create in it is retried alone so only the faulty one fails.
import { batchLoader, loaderCache } from './batching.js';
import type { FeedActor } from './change-feed.js';
import type { Database } from './database.js';
import { INSTANT_SQL, writeVersion } from './resource-store.js';
import { columnName, searchColumnTypes, tableName } from './schema.js';

export interface NewResourceRow {
  id: string;
  contentHead: string;
  contentTail: string;
  columns: Record<string, unknown>;
  patientCompartment: string[];
  /** Who wrote it, recorded in the change feed. */
  actor?: FeedActor | null;
}

const createLoader = loaderCache((db, resourceType) =>
  batchLoader<NewResourceRow, Date>(async (rows) => {
    try {
      return await insertAll(db, resourceType, rows);
    } catch (error) {
      // Inside a transaction already open, the failure has aborted it: no row can be written alone.
      if (db.joined) throw error;
      return Promise.all(rows.map((row) => insertOne(db, resourceType, row).catch((error: Error) => error)));
    }
  }),
);

/** Writes version 1 of a new resource and its history row; resolves to the database time. */
export function insertCreated(db: Database, resourceType: string, row: NewResourceRow): Promise<Date> {
  return createLoader(db, resourceType).load(row);
}

function insertOne(db: Database, resourceType: string, row: NewResourceRow): Promise<Date> {
  return writeVersion(db, {
    resourceType,
    id: row.id,
    versionId: 1,
    isNew: true,
    deleted: false,
    method: 'POST',
    url: resourceType,
    contentHead: row.contentHead,
    contentTail: row.contentTail,
    columns: row.columns,
    patientCompartment: row.patientCompartment,
    actor: row.actor,
  });
}

async function insertAll(db: Database, resourceType: string, rows: readonly NewResourceRow[]): Promise<Date[]> {
  if (rows.length === 1) return [await insertOne(db, resourceType, rows[0])];
  const codes = Object.keys(rows[0].columns);
  const types = searchColumnTypes(resourceType);
  // Casts on the first tuple type the whole VALUES list.
  const casts = ['::text', '::text', '::text', '::text[]', '::jsonb', ...codes.map((code) => `::${types.get(code) ?? 'text'}`)];
  const params: unknown[] = [resourceType];
  const tuples = rows.map((row, r) => {
    const values = [row.id, row.contentHead, row.contentTail, row.patientCompartment, row.actor ? JSON.stringify(row.actor) : null, ...codes.map((code) => row.columns[code])];
    const first = params.length + 1;
    params.push(...values);
    return `(${values.map((_, i) => `$${first + i}${r === 0 ? casts[i] : ''}`).join(', ')})`;
  });
  const extra = codes.map((code) => `, ${columnName(code)}`).join('');
  const sql = `
    WITH t AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS ts),
    v (id, head, tail, patient_compartment, actor${extra}) AS (VALUES ${tuples.join(', ')}),
    c AS (SELECT v.*, t.ts, v.head || ${INSTANT_SQL} || v.tail AS content FROM v, t),
    cur AS (INSERT INTO ${tableName(resourceType)} (id, version_id, last_updated, deleted, content, patient_compartment${extra})
      SELECT id, 1, ts, false, content, patient_compartment${extra} FROM c),
    feed AS (INSERT INTO kiln_change (resource_type, id, version_id, interaction, actor) SELECT $1, id, 1, 'create', actor FROM c)
    INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, method, url, content, patient_compartment)
      SELECT $1, id, 1, ts, false, 'POST', $1, content, patient_compartment FROM c
    RETURNING id, last_updated`;
  const result = await db.query<{ id: string; last_updated: Date }>(sql, params);
  const times = new Map(result.rows.map((row) => [row.id, row.last_updated]));
  return rows.map((row) => times.get(row.id) as Date);
}
