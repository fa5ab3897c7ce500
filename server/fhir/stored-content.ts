// FHIR R4 §2.25 Resource.meta (hl7.org/fhir/R4/resource.html#Meta): versionId and lastUpdated
// are the server's, whatever the client sent.
import type { Resource } from '@medplum/fhirtypes';

const LAST_UPDATED_MARK = '\u0000kiln:last-updated\u0000';
const MARK_JSON = JSON.stringify(LAST_UPDATED_MARK);

export interface SplitContent {
  head: string;
  tail: string;
}

/**
 * Serialises `resource` as stored for `id` at `versionId`, split where the database inserts
 * `meta.lastUpdated`. resourceType, id and meta lead so the split point is always the first mark.
 */
export function splitContent(resource: Resource, id: string, versionId: number): SplitContent {
  const { resourceType, id: _ignored, meta, ...rest } = resource as Resource & Record<string, unknown>;
  const { versionId: _v, lastUpdated: _l, ...metaRest } = meta ?? {};
  const ordered = {
    resourceType,
    id,
    meta: { versionId: String(versionId), lastUpdated: LAST_UPDATED_MARK, ...metaRest },
    ...rest,
  };
  const text = JSON.stringify(ordered);
  const at = text.indexOf(MARK_JSON);
  return { head: text.slice(0, at + 1), tail: text.slice(at + MARK_JSON.length - 1) };
}

export function joinContent(split: SplitContent, lastUpdated: Date): string {
  return split.head + lastUpdated.toISOString() + split.tail;
}
