// FHIR R4 §3.1.0.6 create and §3.1.0.8.1 conditional create (hl7.org/fhir/R4/http.html#create).
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { readCurrent } from '../../store/resource-store.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { preconditionFailed } from '../errors.js';
import { storeNewResource, storeVersion } from '../version-write.js';
import { hasContained, syncContained } from '../contained.js';
import { assertWritable } from '../write-checks.js';
import { assertCanRead, assertCanWrite } from '../access-checks.js';
import { audited, auditWrite } from '../audit-hooks.js';

export interface CreateOptions {
  /** The If-None-Exist header: a search that, when it matches, turns the create into a no-op. */
  ifNoneExist?: string;
  /** The id to give the new resource, chosen earlier (a transaction maps fullUrls to ids first). */
  id?: string;
}

export type CreateResult = WriteResult & { existing?: boolean };

export async function create(ctx: FhirContext, resource: Resource, options: CreateOptions = {}): Promise<CreateResult> {
  const id = options.id ?? randomUUID();
  const candidate = { ...resource, id } as Resource;
  const write = { resource: candidate, id, versionId: 1, isNew: true, method: 'POST' as const, url: resource.resourceType };
  assertCanWrite(ctx, 'create', candidate);
  if (options.ifNoneExist === undefined) {
    await assertWritable(ctx, ctx.db, candidate);
    // Contained resources are indexed, and the AuditEvent stored, in the same transaction.
    if (hasContained(candidate) || audited(ctx)) {
      return ctx.db.transaction(async (tx) => {
        const result = await storeVersion(tx, write);
        await syncContained(tx, `${resource.resourceType}/${id}`, [], candidate);
        await auditWrite(ctx, tx, 'create', result);
        return result;
      });
    }
    return storeNewResource(ctx.db, write);
  }
  const criteria = parseCriteria(resource.resourceType, options.ifNoneExist, 'If-None-Exist', ctx.baseUrl);
  return ctx.db.transaction(async (tx) => {
    await lockCriteria(tx, `${resource.resourceType}?${options.ifNoneExist}`);
    const matches = await findMatchingIds(tx, resource.resourceType, criteria, 2);
    if (matches.length > 1) {
      throw preconditionFailed(`If-None-Exist "${options.ifNoneExist}" matches more than one ${resource.resourceType}`);
    }
    if (matches.length === 1) {
      const current = await readCurrent(tx, resource.resourceType, matches[0]);
      if (current?.content) {
        if (ctx.access) await assertCanRead(ctx, JSON.parse(current.content) as Resource);
        return { status: 200, resourceType: resource.resourceType, id: current.id, versionId: current.versionId, lastUpdated: current.lastUpdated, content: current.content, existing: true };
      }
    }
    await assertWritable(ctx, tx, candidate);
    const result = await storeVersion(tx, write);
    await syncContained(tx, `${resource.resourceType}/${id}`, [], candidate);
    await auditWrite(ctx, tx, 'create', result);
    return result;
  });
}
