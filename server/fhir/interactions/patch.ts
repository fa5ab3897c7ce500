// FHIR R4 §3.1.0.5 patch with JSON Patch (hl7.org/fhir/R4/http.html#patch, RFC 6902).
import type { Resource } from '@medplum/fhirtypes';
import type { Operation } from 'fast-json-patch';
import { lockCurrent, readCurrent } from '../../store/resource-store.js';
import { findMatchingIds } from '../../store/match-query.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { gone, notFound, preconditionFailed, unprocessable } from '../errors.js';
import { applyBoundedPatch, assertPatchedSize, patchOperations, type PatchLimits } from '../json-patch.js';
import type { Queryable } from '../../store/database.js';
import { updateIn } from './update.js';
import { canReach } from '../access-checks.js';

const limitsOf = (ctx: FhirContext): PatchLimits => ({ maxOperations: ctx.maxPatchOperations, maxBytes: ctx.maxBodyBytes });

export async function patch(ctx: FhirContext, resourceType: string, id: string, operations: unknown, ifMatch?: string): Promise<WriteResult> {
  const ops = patchOperations(operations, limitsOf(ctx));
  return ctx.db.transaction((tx) => patchIn(ctx, tx, resourceType, id, ops, ifMatch));
}

export async function conditionalPatch(ctx: FhirContext, resourceType: string, query: string, operations: unknown, ifMatch?: string): Promise<WriteResult> {
  const ops = patchOperations(operations, limitsOf(ctx));
  const criteria = parseCriteria(ctx, resourceType, query, 'Conditional patch');
  return ctx.db.transaction(async (tx) => {
    const matches = await findMatchingIds(tx, resourceType, criteria, 2);
    if (matches.length === 0) throw notFound(`Conditional patch "${query}" matches no ${resourceType}`);
    if (matches.length > 1) throw preconditionFailed(`Conditional patch "${query}" matches more than one ${resourceType}`);
    return patchIn(ctx, tx, resourceType, matches[0], ops, ifMatch);
  });
}

async function patchIn(ctx: FhirContext, tx: Queryable, resourceType: string, id: string, ops: Operation[], ifMatch?: string): Promise<WriteResult> {
  // Lock first so that the version we patch is the version we replace.
  const locked = await lockCurrent(tx, resourceType, id);
  if (!locked || !canReach(ctx, resourceType, locked.patientCompartment)) throw notFound(`${resourceType}/${id} is not known`);
  if (locked.deleted) throw gone(`${resourceType}/${id} has been deleted`);
  const current = await readCurrent(tx, resourceType, id);
  const original = JSON.parse(current?.content as string) as Resource;
  const patched = applyBoundedPatch(original, ops, limitsOf(ctx)) as Resource;
  if (patched === null || typeof patched !== 'object' || patched.resourceType !== resourceType) {
    throw unprocessable('JSON Patch may not change the resourceType');
  }
  if (patched.id !== id) throw unprocessable('JSON Patch may not change the id');
  assertPatchedSize(patched, limitsOf(ctx));
  return updateIn(ctx, tx, resourceType, id, patched, { ifMatch, method: 'PATCH' });
}
