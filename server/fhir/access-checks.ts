// SMART scopes and Kiln's role rules applied to every interaction (SMART App Launch 2.x
// §scopes): a scope must allow the interaction on the type, before anything is looked up; a caller
// confined to one patient reaches only what server/fhir/confinement.ts lets it, and what is out of
// its reach answers exactly as what does not exist; searches are narrowed rather than failed; v2
// query filters narrow reads and searches, version by version. On top: a device only creates
// Observations (and keeps its own Device); AuditEvents are read by administrators only and
// written by no one through the API. Without `ctx.access` (authorization off, Kiln's own work)
// nothing here restricts anything.
import type { Resource } from '@medplum/fhirtypes';
import { indexValues } from '../../resources/search/index-values.js';
import { scopesFor, type Interaction, type ResourceScope } from '../auth/scopes.js';
import type { Queryable } from '../store/database.js';
import { findMatchingIds } from '../store/match-query.js';
import { and, or, type Condition } from '../store/search/condition.js';
import { versionsMatching } from '../store/search/version-match.js';
import { isSharedReferenceType, reachableType, reachCondition, reaches, restrictNested } from './confinement.js';
import type { Access, FhirContext } from './context.js';
import { FhirError, issue } from './errors.js';
import { criterionCondition } from './search/criteria.js';

export const forbidden = (text: string) => new FhirError(403, [issue('forbidden', text)]);

const WRITES = new Set<Interaction>(['create', 'update', 'delete']);

/** The scopes that allow `interaction` on `type`, after the role rules; 403 when none does. */
export function permittingScopes(ctx: FhirContext, type: string, interaction: Interaction, id?: string): ResourceScope[] {
  const access = ctx.access as Access;
  if (type === 'AuditEvent') {
    if (WRITES.has(interaction)) throw forbidden('AuditEvents are written by Kiln only: they cannot be created, changed or deleted through the API');
    if (access.role !== 'admin') throw forbidden('Only administrators read AuditEvents');
  }
  if (access.role === 'device') {
    const ownDevice = type === 'Device' && id !== undefined && access.fhirUser === `Device/${id}`;
    // Its own Device: read, updated, or created under its own id (PUT Device/{id}).
    if (!((type === 'Observation' && interaction === 'create') || (ownDevice && ['read', 'update', 'create'].includes(interaction)))) {
      throw forbidden('A device may only create Observations and read, create or update its own Device');
    }
  }
  let scopes = scopesFor(access.scopes, type, interaction);
  // A filter narrows what is read; a write must be allowed without one.
  if (WRITES.has(interaction)) scopes = scopes.filter((s) => !s.filter.length);
  if (!scopes.length) throw forbidden(`The token's scopes do not allow ${interaction} on ${type}`);
  return scopes;
}

/** The one patient the caller is confined to, if any. */
export function confinedPatient(ctx: FhirContext): string | undefined {
  return ctx.access?.patient;
}

/** Whether the caller may see a version of `type` that belongs to `patientCompartment` (scopes aside). */
export function canReach(ctx: FhirContext, type: string, patientCompartment: readonly string[]): boolean {
  const patient = confinedPatient(ctx);
  return patient === undefined || reaches(patient, type, patientCompartment);
}

/** The filters of the permitting scopes as one condition, or undefined when one scope has none. */
function filterCondition(ctx: FhirContext, type: string, scopes: ResourceScope[]): Condition | undefined {
  if (scopes.some((s) => !s.filter.length)) return undefined;
  return or(scopes.map((s) => and(s.filter.map(([name, value]) => criterionCondition(type, name, value, ctx.baseUrl)))));
}

/**
 * 403 unless the caller's scopes let it read `type` at all. Checked before anything is looked up,
 * so that the answer never depends on what exists. Returns the permitting scopes (undefined when
 * authorization is off) for the filter check that follows.
 */
export function assertMayRead(ctx: FhirContext, type: string, id?: string): ResourceScope[] | undefined {
  return ctx.access ? permittingScopes(ctx, type, 'read', id) : undefined;
}

/** 403 unless the current version of `type/id` meets the filters of `scopes`. */
export async function assertCurrentWithinFilters(ctx: FhirContext, q: Queryable, type: string, id: string, scopes: ResourceScope[] | undefined): Promise<void> {
  const filter = scopes && filterCondition(ctx, type, scopes);
  if (filter && !(await findMatchingIds(q, type, [{ kind: 'in', column: { row: 'id' }, values: [id] }, filter], 2)).length) {
    throw forbidden(`${type}/${id} is outside the filters of the token's scopes`);
  }
}

export interface VersionText {
  id: string;
  content: string | null;
  lastUpdated: Date;
  patientCompartment: string[];
}

/**
 * Which versions of `type` (earlier ones included) meet the filters of `scopes`, each judged on its
 * own content. A deletion has no content to judge: under a filtered scope it is not shown.
 */
export async function versionsWithinFilters(ctx: FhirContext, type: string, versions: VersionText[], scopes: ResourceScope[] | undefined): Promise<boolean[]> {
  const filter = scopes && filterCondition(ctx, type, scopes);
  if (!filter) return versions.map(() => true);
  const judged = versions.map((v, index) => ({ v, index })).filter(({ v }) => v.content !== null);
  const values = judged.map(({ v }) => ({
    id: v.id,
    content: v.content as string,
    lastUpdated: v.lastUpdated,
    patientCompartment: v.patientCompartment,
    columns: indexValues(JSON.parse(v.content as string) as Resource),
  }));
  const matching = await versionsMatching(ctx.db, type, values, filter);
  const result = versions.map(() => false);
  judged.forEach(({ index }, i) => (result[index] = matching[i]));
  return result;
}

/** What a query of `type` must add for a caller allowed to make it: its reach and its scopes' filters. */
function restrictionWith(ctx: FhirContext, type: string, scopes: ResourceScope[]): Condition | undefined {
  const parts: Condition[] = [];
  const patient = confinedPatient(ctx);
  const reach = patient === undefined ? undefined : reachCondition(patient, type);
  if (reach) parts.push(reach);
  const filter = filterCondition(ctx, type, scopes);
  if (filter) parts.push(filter);
  return parts.length ? and(parts) : undefined;
}

/** What a search of `type` must add to its conditions; 403 when the caller may not search it. */
export function searchRestriction(ctx: FhirContext, type: string): Condition | undefined {
  if (!ctx.access) return undefined;
  return restrictionWith(ctx, type, permittingScopes(ctx, type, 'search'));
}

/** The same for resources read along the way (_include, _revinclude, containers); null when the caller may not read `type`. */
export function readRestriction(ctx: FhirContext, type: string): Condition | undefined | null {
  if (!ctx.access) return undefined;
  try {
    return restrictionWith(ctx, type, permittingScopes(ctx, type, 'read'));
  } catch (error) {
    if (error instanceof FhirError && error.status === 403) return null;
    throw error;
  }
}

/** A search's own conditions, with every chain, `_has` and `_list` held to what the caller may search. */
export function restrictSearchConditions(ctx: FhirContext, conditions: Condition[]): Condition[] {
  if (!ctx.access) return conditions;
  return conditions.map((condition) => restrictNested(condition, (type) => searchRestriction(ctx, type)));
}

/**
 * The criteria of a conditional interaction (If-None-Exist, conditional update, delete and patch, a
 * transaction's conditional references) as a confined caller may evaluate them: inside its reach,
 * down to chains and `_has`, so that another patient's resources neither match nor block.
 */
export function confineCriteria(ctx: FhirContext, type: string, conditions: Condition[]): Condition[] {
  const patient = confinedPatient(ctx);
  if (patient === undefined) return conditions;
  const restrict = (t: string) => reachCondition(patient, t);
  const top = restrict(type);
  return [...conditions.map((condition) => restrictNested(condition, restrict)), ...(top ? [top] : [])];
}

/** May the caller search `type` at all, and could anything of it be within its reach? */
export function searchable(ctx: FhirContext, type: string): boolean {
  if (!ctx.access) return true;
  if (!reachableType(confinedPatient(ctx), type)) return false;
  try {
    permittingScopes(ctx, type, 'search');
    return true;
  } catch (error) {
    if (error instanceof FhirError && error.status === 403) return false;
    throw error;
  }
}

/**
 * 403 unless the caller may write `resource`. A confined caller writes only resources that belong
 * to its patient and to no one else: `compartments` are those of the new version and of the version
 * it replaces (which was found within reach already), never shared reference data.
 */
export function assertCanWrite(ctx: FhirContext, interaction: 'create' | 'update' | 'delete', resource: Resource, ...compartments: (readonly string[] | undefined)[]): void {
  if (!ctx.access) return;
  permittingScopes(ctx, resource.resourceType, interaction, resource.id);
  const patient = confinedPatient(ctx);
  if (patient === undefined) return;
  const name = `${resource.resourceType}${resource.id ? `/${resource.id}` : ''}`;
  if (isSharedReferenceType(resource.resourceType)) {
    throw forbidden(`${resource.resourceType} is shared reference data: a token confined to one patient reads it but does not write it`);
  }
  for (const compartment of compartments) {
    if (compartment && (compartment.length !== 1 || compartment[0] !== patient)) {
      throw forbidden(`${name} must belong to the token's patient, and to no other patient`);
    }
  }
}

/** Only administrators run server operations such as $reindex. */
export function assertAdmin(ctx: FhirContext, what: string): void {
  if (ctx.access && ctx.access.role !== 'admin') throw forbidden(`Only administrators may run ${what}`);
}
