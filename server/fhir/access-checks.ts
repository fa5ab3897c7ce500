// SMART scopes and Kiln's role rules applied to every interaction (SMART App Launch 2.x
// §scopes): a scope must allow the interaction on the type; a token confined to one patient
// sees and writes only that patient's compartment, searches are narrowed to it rather than
// failed; v2 query filters narrow reads and searches. On top: a device only creates
// Observations (and keeps its own Device); AuditEvents are read by administrators only and
// written by no one through the API. Without `ctx.access` (authorization off, Kiln's own work)
// nothing here restricts anything.
import type { Resource } from '@medplum/fhirtypes';
import { compartment } from '../../resources/compartments.js';
import { indexedParameters } from '../../resources/search/parameters.js';
import { indexValues } from '../../resources/search/index-values.js';
import { scopesFor, type Interaction, type ResourceScope } from '../auth/scopes.js';
import { findMatchingIds } from '../store/match-query.js';
import { and, or, type Condition } from '../store/search/condition.js';
import type { Access, FhirContext } from './context.js';
import { FhirError, issue } from './errors.js';
import { compartmentCondition } from './interactions/everything.js';
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

/** Is `resource` in the compartment of `patient`? Types outside the Patient compartment hold no patient's data. */
function inPatientCompartment(ctx: FhirContext, resource: Resource, patient: string): boolean {
  if (resource.resourceType === 'Patient') return resource.id === patient;
  const params = compartment('Patient')?.members.get(resource.resourceType);
  if (!params) return true;
  const definitions = params.map((code) => indexedParameters(resource.resourceType).get(code)).filter((d) => d !== undefined);
  const row = indexValues(resource, definitions);
  const keys = [`Patient/${patient}`, `${ctx.baseUrl}/Patient/${patient}`];
  return definitions.some((d) => ((row[d.code] as string[] | null) ?? []).some((key) => keys.includes(key)));
}

/** The filters of the permitting scopes as one condition, or undefined when one scope has none. */
function filterCondition(ctx: FhirContext, type: string, scopes: ResourceScope[]): Condition | undefined {
  if (scopes.some((s) => !s.filter.length)) return undefined;
  return or(scopes.map((s) => and(s.filter.map(([name, value]) => criterionCondition(type, name, value, ctx.baseUrl)))));
}

/** 403 unless the caller may read `resource` (a read, vread, history entry or conditional match). */
export async function assertCanRead(ctx: FhirContext, resource: Resource): Promise<void> {
  await assertCanReadStored(ctx, resource.resourceType, resource.id as string, resource);
}

/** The same for a stored resource, parsed only when its content matters (a token confined to a patient). */
export async function assertCanReadStored(ctx: FhirContext, resourceType: string, id: string, content: string | Resource): Promise<void> {
  if (!ctx.access) return;
  const scopes = permittingScopes(ctx, resourceType, 'read', id);
  const { patient } = ctx.access;
  if (patient && !inPatientCompartment(ctx, typeof content === 'string' ? (JSON.parse(content) as Resource) : content, patient)) {
    throw forbidden(`${resourceType}/${id} is not in the compartment of the token's patient`);
  }
  const filter = filterCondition(ctx, resourceType, scopes);
  if (filter && !(await findMatchingIds(ctx.db, resourceType, [{ kind: 'in', column: { row: 'id' }, values: [id] }, filter], 2)).length) {
    throw forbidden(`${resourceType}/${id} is outside the filters of the token's scopes`);
  }
}

/** The resources of `found` the caller may read (for _include, _revinclude and the like). */
export async function readable<T extends { resourceType: string; id: string; content: string }>(ctx: FhirContext, found: T[]): Promise<T[]> {
  if (!ctx.access) return found;
  const kept: T[] = [];
  for (const item of found) {
    try {
      await assertCanReadStored(ctx, item.resourceType, item.id, item.content);
      kept.push(item);
    } catch (error) {
      if (!(error instanceof FhirError) || error.status !== 403) throw error;
    }
  }
  return kept;
}

/** What a search of `type` must add to its conditions: the patient's compartment and the scopes' filters. */
export function searchRestriction(ctx: FhirContext, type: string): Condition | undefined {
  if (!ctx.access) return undefined;
  const scopes = permittingScopes(ctx, type, 'search');
  const parts: Condition[] = [];
  const { patient } = ctx.access;
  if (patient && (type === 'Patient' || compartment('Patient')?.members.has(type))) {
    parts.push(compartmentCondition('Patient', patient, type, ctx.baseUrl) as Condition);
  }
  const filter = filterCondition(ctx, type, scopes);
  if (filter) parts.push(filter);
  return parts.length ? and(parts) : undefined;
}

/** May the caller search `type` at all? */
export function searchable(ctx: FhirContext, type: string): boolean {
  try {
    permittingScopes(ctx, type, 'search');
    return true;
  } catch (error) {
    if (error instanceof FhirError && error.status === 403) return false;
    throw error;
  }
}

/** 403 unless the caller may write `resource` (and, for an update or delete, the version it replaces). */
export function assertCanWrite(ctx: FhirContext, interaction: 'create' | 'update' | 'delete', resource: Resource, previous?: Resource): void {
  if (!ctx.access) return;
  permittingScopes(ctx, resource.resourceType, interaction, resource.id);
  const { patient } = ctx.access;
  if (!patient) return;
  for (const version of [resource, previous]) {
    if (version && !inPatientCompartment(ctx, version, patient)) {
      throw forbidden(`${version.resourceType}${version.id ? `/${version.id}` : ''} is not in the compartment of the token's patient`);
    }
  }
}

/** Whole-server and type-wide reads (system search, history) cannot be narrowed to one patient. */
export function assertUnconfined(ctx: FhirContext, what: string): void {
  if (ctx.access?.patient) throw forbidden(`${what} is not available to a token confined to one patient`);
}

/** Only administrators run server operations such as $reindex. */
export function assertAdmin(ctx: FhirContext, what: string): void {
  if (ctx.access && ctx.access.role !== 'admin') throw forbidden(`Only administrators may run ${what}`);
}
