// The versions the change feed names, read from history in one query: the subscriptions consumer
// matches each change against the version it made (and the one before, for updates and deletes),
// whatever happened to the resource since.
import type { Queryable } from './database.js';

export interface VersionRef {
  resourceType: string;
  id: string;
  versionId: number;
}

export interface FeedVersion extends VersionRef {
  /** The resource as JSON text; null for a deletion. */
  content: string | null;
  lastUpdated: Date;
  patientCompartment: string[];
}

export const versionKey = (ref: VersionRef) => `${ref.resourceType}/${ref.id}/${ref.versionId}`;

/** The versions of `refs` that exist, by versionKey. */
export async function readFeedVersions(q: Queryable, refs: VersionRef[]): Promise<Map<string, FeedVersion>> {
  const found = new Map<string, FeedVersion>();
  if (!refs.length) return found;
  const result = await q.query<{ resource_type: string; id: string; version_id: number; content: string | null; last_updated: Date; patient_compartment: string[] | null }>(
    `SELECT h.resource_type, h.id, h.version_id, h.content, h.last_updated, h.patient_compartment FROM resource_history h
     JOIN unnest($1::text[], $2::text[], $3::int[]) AS r (resource_type, id, version_id)
       ON h.resource_type = r.resource_type AND h.id = r.id AND h.version_id = r.version_id`,
    [refs.map((r) => r.resourceType), refs.map((r) => r.id), refs.map((r) => r.versionId)],
  );
  for (const row of result.rows) {
    const version: FeedVersion = {
      resourceType: row.resource_type,
      id: row.id,
      versionId: row.version_id,
      content: row.content,
      lastUpdated: row.last_updated,
      patientCompartment: row.patient_compartment ?? [],
    };
    found.set(versionKey(version), version);
  }
  return found;
}
