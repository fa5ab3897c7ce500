// FHIR R4 §3.1.0.4 update, update as create, and §3.1.0.4.3 conditional update
// (hl7.org/fhir/R4/http.html#update).
import type { Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { SqlState, sqlStateOf, type Queryable } from '../../store/database.js';
import { findMatchingIds, lockCriteria } from '../../store/match-query.js';
import { lockCurrent } from '../../store/resource-store.js';
import { parseCriteria } from '../conditional-criteria.js';
import type { FhirContext, WriteResult } from '../context.js';
import { badRequest, notFound, preconditionFailed } from '../errors.js';
import { assertVersionMatches } from '../version-match.js';
import { patientCompartmentOf, storeVersion } from '../version-write.js';
import { containedTypesOf, syncContained } from '../contained.js';
import { assertWritable } from '../write-checks.js';
import { assertCanWrite, canReach, confinedPatient } from '../access-checks.js';
import { auditWrite } from '../audit-hooks.js';
import { feedActor } from '../feed-actor.js';

export interface UpdateOptions {
  ifMatch?: string;
  /** The method recorded in history: PUT, or PATCH when the new version came from a patch. */
  method?: 'PUT' | 'PATCH';
  /** The id was made by this server just now (a conditional update that matched nothing): it can only be new. */
  serverAssignedId?: boolean;
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
  const confined = confinedPatient(ctx) !== undefined;
  // Out of a confined caller's reach answers as unknown; so does a new id it names itself, which
  // would otherwise tell it whether someone else's resource holds that id (it creates with POST).
  if (current ? !canReach(ctx, resourceType, current.patientCompartment) : confined && !options.serverAssignedId) {
    throw notFound(`${resourceType}/${id} is not known${confined ? ' (a token confined to one patient creates resources with POST)' : ''}`);
  }
  assertVersionMatches(options.ifMatch, current?.versionId, `${resourceType}/${id}`);
  const candidate = { ...resource, id } as Resource;
  const interaction = current?.content ? 'update' : 'create';
  assertCanWrite(ctx, interaction, candidate);
  await assertWritable(ctx, tx, candidate);
  const patientCompartment = confined ? await patientCompartmentOf(tx, candidate, ctx.baseUrl) : undefined;
  if (confined) assertCanWrite(ctx, interaction, candidate, patientCompartment, current?.patientCompartment);
  const result = await storeVersion(tx, {
    resource: candidate,
    id,
    versionId: (current?.versionId ?? 0) + 1,
    isNew: !current,
    method: options.method ?? 'PUT',
    url: `${resourceType}/${id}`,
    baseUrl: ctx.baseUrl,
    patientCompartment,
    actor: feedActor(ctx),
  });
  await syncContained(tx, `${resourceType}/${id}`, containedTypesOf(current?.content), candidate, result.patientCompartment);
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
  const criteria = parseCriteria(ctx, resourceType, query, 'Conditional update');
  return retryOnRace(() =>
    ctx.db.transaction(async (tx) => {
      await lockCriteria(tx, resourceType, criteria);
      const matches = await findMatchingIds(tx, resourceType, criteria, 2);
      if (matches.length > 1) throw preconditionFailed(`Conditional update "${query}" matches more than one ${resourceType}`);
      if (matches.length === 1) {
        // R4 http.html#cond-update: a match whose id differs from the one in the body is a bad request.
        if (resource.id !== undefined && resource.id !== matches[0]) {
          throw badRequest(`Conditional update "${query}" matches ${resourceType}/${matches[0]}, but the resource has id "${resource.id}"`, `${resourceType}.id`);
        }
        return updateIn(ctx, tx, resourceType, matches[0], resource, options);
      }
      // No match: with an id this is update-as-create, without one a create with a server id.
      if (resource.id !== undefined) return updateIn(ctx, tx, resourceType, resource.id, resource, options);
      return updateIn(ctx, tx, resourceType, randomUUID(), resource, { ...options, serverAssignedId: true });
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
