// FHIR R4 §3.1.0.7 delete and §3.1.0.8.3 conditional delete (hl7.org/fhir/R4/http.html#delete).
import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/database.js';
import type { StoredVersion } from '../../store/resource-store.js';
import { assertCanWrite, canReach } from '../access-checks.js';
import { auditWrite } from '../audit-hooks.js';
import { feedActor } from '../feed-actor.js';
import { findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { lockCurrent } from '../../store/resource-store.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext } from '../context.js';
import { notFound, preconditionFailed } from '../errors.js';
import { assertVersionMatches } from '../version-match.js';
import { storeDeletion } from '../version-write.js';
import { containedTypesOf, syncContained } from '../contained.js';

export interface DeleteResult {
  /** Resources that got a deletion version now (empty when already deleted or nothing matched). */
  deleted: { id: string; versionId: number }[];
}

export async function deleteResource(ctx: FhirContext, resourceType: string, id: string, ifMatch?: string): Promise<DeleteResult> {
  return ctx.db.transaction(async (tx) => {
    const current = await lockCurrent(tx, resourceType, id);
    if (!current || !canReach(ctx, resourceType, current.patientCompartment)) throw notFound(`${resourceType}/${id} is not known`);
    assertVersionMatches(ifMatch, current.versionId, `${resourceType}/${id}`);
    // Deleting what is already deleted changes nothing (R4: "has no effect").
    if (current.deleted) return { deleted: [] };
    assertCanDelete(ctx, resourceType, current);
    const deleted = await deleteIn(ctx, tx, resourceType, id, current);
    await auditWrite(ctx, tx, 'delete', { resourceType, ...deleted });
    return { deleted: [deleted] };
  });
}

/** Deletes every match (Kiln declares conditionalDelete "multiple"), up to a configured limit. */
export async function conditionalDelete(ctx: FhirContext, resourceType: string, query: string): Promise<DeleteResult> {
  const criteria = parseCriteria(ctx, resourceType, query, 'Conditional delete');
  return ctx.db.transaction(async (tx) => {
    await lockCriteria(tx, resourceType, criteria);
    const matches = await findMatchingIds(tx, resourceType, criteria, ctx.maxConditionalDeletes + 1);
    if (matches.length > ctx.maxConditionalDeletes) {
      throw preconditionFailed(`Conditional delete "${query}" matches more than ${ctx.maxConditionalDeletes} ${resourceType} resources; narrow the criteria`);
    }
    const deleted = [];
    for (const id of matches) {
      const current = await lockCurrent(tx, resourceType, id);
      if (!current || current.deleted) continue;
      assertCanDelete(ctx, resourceType, current);
      const done = await deleteIn(ctx, tx, resourceType, id, current);
      await auditWrite(ctx, tx, 'delete', { resourceType, ...done });
      deleted.push(done);
    }
    return { deleted };
  });
}

function assertCanDelete(ctx: FhirContext, resourceType: string, current: StoredVersion): void {
  if (ctx.access) assertCanWrite(ctx, 'delete', JSON.parse(current.content as string) as Resource, current.patientCompartment);
}

async function deleteIn(ctx: FhirContext, tx: Queryable, resourceType: string, id: string, current: StoredVersion): Promise<{ id: string; versionId: number }> {
  const versionId = current.versionId + 1;
  await storeDeletion(tx, resourceType, id, versionId, current.patientCompartment, feedActor(ctx));
  await syncContained(tx, `${resourceType}/${id}`, containedTypesOf(current.content), undefined);
  return { id, versionId };
}
