// The checks every write passes before anything is stored: the resource is valid R4 and every
// reference to this server points at a resource that exists (hl7.org/fhir/R4/references.html).
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { localReferences, type LocalReference } from '../../resources/references.js';
import { validationErrors } from '../../resources/validate.js';
import type { Queryable } from '../store/database.js';
import { existingIds, existingIdsBatched, existingVersions } from '../store/resource-store.js';
import { confinedPatient } from './access-checks.js';
import { isSharedReferenceType } from './confinement.js';
import type { FhirContext } from './context.js';
import { LIGHT_ENTRIES_PER_TURN, pacer } from './bundle/pacing.js';
import { invalidResource } from './errors.js';

// References inside a stored Bundle resolve against its entries' fullUrls, not this server.
const TYPES_WITHOUT_REFERENCE_CHECK = new Set(['Bundle']);

export async function assertWritable(ctx: FhirContext, q: Queryable, resource: Resource): Promise<void> {
  const errors = validationErrors(resource);
  if (errors.length) throw invalidResource(errors);
  await ctx.contentRules?.get(resource.resourceType)?.(resource);
  if (!ctx.checkReferences) return;
  const [missing] = await missingReferences(ctx, q, [resource]);
  if (missing.length) throw invalidResource(missing.map(missingIssue));
}

/**
 * References of `resources` to resources of this server that do not exist, per resource: one
 * query per referenced type for all of them (a transaction checks its writes together, at the end).
 * For a caller confined to one patient, what is out of its reach does not exist: a reference to it
 * is refused like a dangling one, so that writing one never tells whether it is there.
 */
export async function missingReferences(ctx: FhirContext, q: Queryable, resources: Resource[]): Promise<LocalReference[][]> {
  const perResource: LocalReference[][] = [];
  // A transaction checks thousands at once: the event loop gets a turn every few hundred.
  const pace = pacer(LIGHT_ENTRIES_PER_TURN);
  for (const resource of resources) {
    perResource.push(
      TYPES_WITHOUT_REFERENCE_CHECK.has(resource.resourceType)
        ? []
        : localReferences(resource as unknown as Record<string, unknown>, ctx.baseUrl).filter(
            // A resource may refer to itself; it exists once this write commits.
            (ref) => !(ref.resourceType === resource.resourceType && ref.id === resource.id),
          ),
    );
    await pace();
  }
  const byType = new Map<string, LocalReference[]>();
  for (const ref of perResource.flat()) byType.set(ref.resourceType, [...(byType.get(ref.resourceType) ?? []), ref]);
  const missing = new Set<LocalReference>();
  for (const [type, refs] of byType) {
    const current = refs.filter((ref) => ref.versionId === undefined);
    const versioned = refs.filter((ref) => ref.versionId !== undefined);
    const patient = isSharedReferenceType(type) ? undefined : confinedPatient(ctx);
    if (current.length) {
      const ids = [...new Set(current.map((ref) => ref.id))];
      // Outside a transaction the check can share a query with concurrent writes.
      const found = q === ctx.db && patient === undefined ? await existingIdsBatched(ctx.db, type, ids) : await existingIds(q, type, ids, patient);
      for (const ref of current) if (!found.has(ref.id)) missing.add(ref);
    }
    if (versioned.length) {
      const found = await existingVersions(q, type, versioned.map((ref) => ({ id: ref.id, versionId: ref.versionId as number })), patient);
      for (const ref of versioned) if (!found.has(`${ref.id}/${ref.versionId}`)) missing.add(ref);
    }
  }
  return perResource.map((refs) => refs.filter((ref) => missing.has(ref)));
}

export function missingIssue(ref: LocalReference): OperationOutcomeIssue {
  return {
    severity: 'error',
    code: 'not-found',
    details: { text: `Reference "${ref.text}" points to a resource that does not exist on this server` },
    expression: [ref.path],
  };
}
