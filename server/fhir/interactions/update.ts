// FHIR R4 §3.1.0.4 update, update as create, and §3.1.0.4.3 conditional update
// (hl7.org/fhir/R4/http.html#update).
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { SqlState, sqlStateOf, type Queryable } from '../../store/database.js';
import { findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { lockCurrent } from '../../store/resource-store.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { badRequest, conflict, preconditionFailed } from '../errors.js';
import { assertVersionMatches } from '../version-match.js';
import { storeVersion } from '../version-write.js';
import { containedTypesOf, syncContained } from '../contained.js';
import { assertWritable } from '../write-checks.js';
import { assertCanWrite } from '../access-checks.js';
import { auditWrite } from '../audit-hooks.js';

export interface UpdateOptions {
  ifMatch?: number;
  /** The method recorded in history: PUT, or PATCH when the new version came from a patch. */
  method?: 'PUT' | 'PATCH';
}

export async function update(ctx: FhirContext, resourceType: string, id: string, resource: Resource, options: UpdateOptions = {}): Promise<WriteResult> {
  if (resource.id === undefined) throw badRequest(`The resource must contain an id, and it must be "${id}" as in the URL`, `${resourceType}.id`);
  if (resource.id !== id) throw badRequest(`The id in the resource ("${resource.id}") does not match the id in the URL ("${id}")`, `${resourceType}.id`);
  return retryOnRace(() => ctx.db.transaction((tx) => updateIn(ctx, tx, resourceType, id, resource, options)));
}

/** Updates `id` inside an open transaction: the shared path of update, conditional update and patch. */
export async function updateIn(
  ctx: FhirContext,
  tx: Queryable,
  resourceType: string,
  id: string,
  resource: Resource,
  options: UpdateOptions,
): Promise<WriteResult> {
  const current = await lockCurrent(tx, resourceType, id);
  assertVersionMatches(options.ifMatch, current?.versionId, `${resourceType}/${id}`);
  const candidate = { ...resource, id } as Resource;
  if (ctx.access) {
    const previous = current?.content ? (JSON.parse(current.content) as Resource) : undefined;
    assertCanWrite(ctx, previous ? 'update' : 'create', candidate, previous);
  }
  await assertWritable(ctx, tx, candidate);
  const result = await storeVersion(tx, {
    resource: candidate,
    id,
    versionId: (current?.versionId ?? 0) + 1,
    isNew: !current,
    method: options.method ?? 'PUT',
    url: `${resourceType}/${id}`,
  });
  await syncContained(tx, `${resourceType}/${id}`, containedTypesOf(current?.content), candidate);
  await auditWrite(ctx, tx, !current ? 'create' : options.method === 'PATCH' ? 'patch' : 'update', result);
  return result;
}

export async function conditionalUpdate(
  ctx: FhirContext,
  resourceType: string,
  query: string,
  resource: Resource,
  options: UpdateOptions = {},
): Promise<WriteResult> {
  const criteria = parseCriteria(resourceType, query, 'Conditional update', ctx.baseUrl);
  return retryOnRace(() =>
    ctx.db.transaction(async (tx) => {
      await lockCriteria(tx, `${resourceType}?${query}`);
      const matches = await findMatchingIds(tx, resourceType, criteria, 2);
      if (matches.length > 1) throw preconditionFailed(`Conditional update "${query}" matches more than one ${resourceType}`);
      if (matches.length === 1) {
        if (resource.id !== undefined && resource.id !== matches[0]) {
          throw conflict(`Conditional update "${query}" matches ${resourceType}/${matches[0]}, but the resource has id "${resource.id}"`);
        }
        return updateIn(ctx, tx, resourceType, matches[0], resource, options);
      }
      // No match: with an id this is update-as-create, without one a create with a server id.
      return updateIn(ctx, tx, resourceType, resource.id ?? randomUUID(), resource, options);
    }),
  );
}

/**
 * Two requests creating the same id at once: the loser's INSERT meets the winner's row. Running
 * it again turns it into an ordinary update (or an If-Match failure) against that row.
 */
async function retryOnRace<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (sqlStateOf(error) !== SqlState.uniqueViolation) throw error;
    return work();
  }
}
