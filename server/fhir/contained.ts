// Keeping the index of a resource's contained resources in step with the resource.
import type { Resource } from '@medplum/fhirtypes';
import { isResourceType } from '../../resources/definitions.js';
import { indexValues } from '../../resources/search/index-values.js';
import type { Queryable } from '../store/database.js';
import { deleteContained, insertContained } from '../store/contained-store.js';

type Contained = Resource & { id?: string };

function containedOf(resource: Resource | undefined): Contained[] {
  const list = (resource as { contained?: Contained[] } | undefined)?.contained;
  return Array.isArray(list) ? list.filter((c) => c && typeof c.resourceType === 'string' && isResourceType(c.resourceType)) : [];
}

/** The types contained in a stored version (its JSON text), read only when it has any. */
export function containedTypesOf(content: string | null | undefined): string[] {
  if (!content || !content.includes('"contained"')) return [];
  return containedOf(JSON.parse(content) as Resource).map((c) => c.resourceType);
}

export function hasContained(resource: Resource): boolean {
  return containedOf(resource).length > 0;
}

/**
 * Replaces the contained rows of `container` (e.g. `MedicationRequest/1`) with those of `resource`
 * (none after a delete). They belong to the patients their container belongs to.
 */
export async function syncContained(tx: Queryable, container: string, previousTypes: string[], resource: Resource | undefined, patientCompartment: string[] = []): Promise<void> {
  const current = containedOf(resource);
  await deleteContained(tx, container, [...previousTypes, ...current.map((c) => c.resourceType)]);
  for (const contained of current) {
    if (typeof contained.id !== 'string' || !contained.id) continue;
    await insertContained(tx, container, {
      resourceType: contained.resourceType,
      localId: contained.id,
      content: JSON.stringify(contained),
      columns: indexValues(contained),
      patientCompartment,
    });
  }
}
