// SQL for history (FHIR R4 §3.1.0.9, hl7.org/fhir/R4/http.html#history): versions newest first,
// paged by a keyset cursor so concurrent writes never shift a page.
import type { Queryable } from './database.js';

export interface HistoryScope {
  resourceType?: string;
  id?: string;
}

export interface HistoryCursor {
  lastUpdated: string;
  resourceType: string;
  id: string;
  versionId: number;
}

/** The versions a caller may see, for a caller that may not see them all. */
export interface HistoryRestriction {
  /** Only these types (those the caller's scopes let it read). */
  types?: string[];
  /** Only versions in this patient's compartment, or of the shared types. */
  patient?: { id: string; sharedTypes: string[] };
}

export interface HistoryQuery {
  scope: HistoryScope;
  restriction?: HistoryRestriction;
  since?: Date;
  /** `_at`: versions that were current at some time in [start, end). */
  at?: { start: Date; end: Date };
  count: number;
  /** Rows strictly older (`after`, next page) or newer (`before`, previous page) than the cursor. */
  after?: HistoryCursor;
  before?: HistoryCursor;
}

export interface HistoryRow {
  resource_type: string;
  id: string;
  version_id: number;
  last_updated: Date;
  deleted: boolean;
  method: string;
  url: string;
  content: string | null;
  patient_compartment: string[] | null;
}

const KEY = '(h.last_updated, h.resource_type, h.id, h.version_id)';

export async function readHistory(q: Queryable, query: HistoryQuery): Promise<HistoryRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const bind = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.scope.resourceType) where.push(`h.resource_type = ${bind(query.scope.resourceType)}`);
  if (query.scope.id) where.push(`h.id = ${bind(query.scope.id)}`);
  where.push(...restrictionSql(query.restriction, bind));
  if (query.since) where.push(`h.last_updated >= ${bind(query.since)}`);
  if (query.at) {
    where.push(`h.last_updated < ${bind(query.at.end)}`);
    // Still current at the start of the interval: no later version before it.
    where.push(`NOT EXISTS (SELECT 1 FROM resource_history n WHERE n.resource_type = h.resource_type AND n.id = h.id
      AND n.version_id > h.version_id AND n.last_updated <= ${bind(query.at.start)})`);
  }
  const cursor = query.after ?? query.before;
  if (cursor) {
    const tuple = `(${bind(new Date(cursor.lastUpdated))}::timestamptz, ${bind(cursor.resourceType)}, ${bind(cursor.id)}, ${bind(cursor.versionId)}::int)`;
    where.push(`${KEY} ${query.after ? '<' : '>'} ${tuple}`);
  }
  const direction = query.before ? 'ASC' : 'DESC';
  const sql = `SELECT h.resource_type, h.id, h.version_id, h.last_updated, h.deleted, h.method, h.url, h.content, h.patient_compartment
    FROM resource_history h ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY h.last_updated ${direction}, h.resource_type ${direction}, h.id ${direction}, h.version_id ${direction}
    LIMIT ${bind(query.count + 1)}`;
  const rows = (await q.query<HistoryRow>(sql, params)).rows;
  return rows;
}

function restrictionSql(restriction: HistoryRestriction | undefined, bind: (value: unknown) => string): string[] {
  const where: string[] = [];
  if (restriction?.types) where.push(`h.resource_type = ANY(${bind(restriction.types)}::text[])`);
  const patient = restriction?.patient;
  if (patient) {
    where.push(`(h.patient_compartment && ARRAY[${bind(patient.id)}::text] OR h.resource_type = ANY(${bind(patient.sharedTypes)}::text[]))`);
  }
  return where;
}

/** Whether any version of a resource is one the restriction lets a caller see. */
export async function hasVisibleVersion(q: Queryable, resourceType: string, id: string, restriction: HistoryRestriction): Promise<boolean> {
  const params: unknown[] = [resourceType, id];
  const bind = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = ['h.resource_type = $1', 'h.id = $2', ...restrictionSql(restriction, bind)];
  const result = await q.query(`SELECT 1 FROM resource_history h WHERE ${where.join(' AND ')} LIMIT 1`, params);
  return result.rows.length > 0;
}
