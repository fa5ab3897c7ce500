// FHIR R4 §3.1.0.6 create and §3.1.0.8.1 conditional create (hl7.org/fhir/R4/http.html#create).
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { readCurrent } from '../../store/resource-store.js';
import type { Queryable } from '../../store/database.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { preconditionFailed } from '../errors.js';
import { patientCompartmentOf, storeNewResource, storeVersion, type NewVersion } from '../version-write.js';
import { hasContained, syncContained } from '../contained.js';
import { assertWritable } from '../write-checks.js';
import { assertCanWrite, assertCurrentWithinFilters, assertMayRead, confinedPatient } from '../access-checks.js';
import { audited, auditWrite } from '../audit-hooks.js';
import { feedActor } from '../feed-actor.js';

export interface CreateOptions {
  /** The If-None-Exist header: a search that, when it matches, turns the create into a no-op. */
  ifNoneExist?: string;
  /** The id to give the new resource, chosen earlier (a transaction maps fullUrls to ids first). */
  id?: string;
}

export type CreateResult = WriteResult & { existing?: boolean };

/**
 * A valid new resource, checked for its writer: a confined caller's must belong to its patient alone,
 * so its patients are worked out (after validation, which they assume) and kept for the write.
 */
async function checkedVersion(ctx: FhirContext, q: Queryable, write: NewVersion): Promise<NewVersion> {
  assertCanWrite(ctx, 'create', write.resource);
  await assertWritable(ctx, q, write.resource);
  if (confinedPatient(ctx) === undefined) return write;
  const patientCompartment = await patientCompartmentOf(q, write.resource, ctx.baseUrl);
  assertCanWrite(ctx, 'create', write.resource, patientCompartment);
  return { ...write, patientCompartment };
}

export async function create(ctx: FhirContext, resource: Resource, options: CreateOptions = {}): Promise<CreateResult> {
  const id = options.id ?? randomUUID();
  const candidate = { ...resource, id } as Resource;
  const unchecked: NewVersion = { resource: candidate, id, versionId: 1, isNew: true, method: 'POST', url: resource.resourceType, baseUrl: ctx.baseUrl, actor: feedActor(ctx) };
  if (options.ifNoneExist === undefined) {
    const write = await checkedVersion(ctx, ctx.db, unchecked);
    // Contained resources are indexed, and the AuditEvent stored, in the same transaction.
    if (hasContained(candidate) || audited(ctx)) {
      return ctx.db.transaction(async (tx) => {
        const result = await storeVersion(tx, write);
        await syncContained(tx, `${resource.resourceType}/${id}`, [], candidate, result.patientCompartment);
        await auditWrite(ctx, tx, 'create', result);
        return result;
      });
    }
    return storeNewResource(ctx.db, write);
  }
  const criteria = parseCriteria(ctx, resource.resourceType, options.ifNoneExist, 'If-None-Exist');
  return ctx.db.transaction(async (tx) => {
    await lockCriteria(tx, resource.resourceType, criteria);
    const matches = await findMatchingIds(tx, resource.resourceType, criteria, 2);
    if (matches.length > 1) {
      throw preconditionFailed(`If-None-Exist "${options.ifNoneExist}" matches more than one ${resource.resourceType}`);
    }
    // A transaction gives the creates that share criteria one id (bundle/transaction.ts): when an
    // earlier entry made that resource and it does not meet the criteria, this create is that one.
    const existingId = matches[0] ?? (options.id !== undefined && (await readCurrent(tx, resource.resourceType, options.id))?.content ? options.id : undefined);
    if (existingId !== undefined) {
      const current = await readCurrent(tx, resource.resourceType, existingId);
      if (current?.content) {
        // The match is within the caller's reach (the criteria were confined to it); its scopes must still let it read it.
        await assertCurrentWithinFilters(ctx, tx, resource.resourceType, current.id, assertMayRead(ctx, resource.resourceType, current.id));
        return { status: 200, resourceType: resource.resourceType, id: current.id, versionId: current.versionId, lastUpdated: current.lastUpdated, content: current.content, patientCompartment: current.patientCompartment, existing: true };
      }
    }
    const write = await checkedVersion(ctx, tx, unchecked);
    const result = await storeVersion(tx, write);
    await syncContained(tx, `${resource.resourceType}/${id}`, [], candidate, result.patientCompartment);
    await auditWrite(ctx, tx, 'create', result);
    return result;
  });
}
