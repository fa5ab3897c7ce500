// FHIR R4 Patient/$everything (hl7.org/fhir/R4/patient-operation-everything.html) and the
// all-types compartment search `Patient/{id}/*` (hl7.org/fhir/R4/http.html#vsearch): the patient
// and every resource in its compartment, paged across types.
import { dateRange } from '../../../resources/fhir-date-range.js';
import { compartment } from '../../../resources/compartments.js';
import { column } from '../../../resources/search/index-values.js';
import { or, type Condition } from '../../store/search/condition.js';
import { multiTypeResponse, newMultiTypeRequest, readSharedParameter } from '../search/multi-type-pages.js';
import type { FhirContext } from '../context.js';
import { badRequest, invalidValue, notFound } from '../errors.js';
import { read } from './read.js';
import { searchable, searchRestriction } from '../access-checks.js';
import { auditRead } from '../audit-hooks.js';

export interface EverythingPage {
  bundle: string;
}

/** The condition placing rows of `type` in the compartment of `owner` (e.g. Patient/123). */
export function compartmentCondition(compartmentType: string, id: string, type: string, baseUrl: string): Condition | undefined {
  const definition = compartment(compartmentType);
  if (type === compartmentType) return { kind: 'in', column: { row: 'id' }, values: [id] };
  const params = definition?.members.get(type);
  if (!params) return undefined;
  const keys = [`${compartmentType}/${id}`, `${baseUrl}/${compartmentType}/${id}`];
  return or(params.map((code) => ({ kind: 'overlap', column: { search: column.main(code) }, keys })));
}

/** Every resource in the compartment of `compartmentType`/`id`, the owner first. */
export async function everything(ctx: FhirContext, compartmentType: string, ownerId: string, params: URLSearchParams, path: string): Promise<EverythingPage> {
  await read(ctx, compartmentType, ownerId);
  const definition = compartment(compartmentType);
  if (!definition) throw notFound(`There is no ${compartmentType} compartment`);
  const request = newMultiTypeRequest(ctx.defaultPageSize);
  let since: Date | undefined;
  for (const [name, value] of params) {
    if (readSharedParameter(request, name, value, ctx.maxPageSize)) continue;
    if (name !== '_since') {
      throw badRequest(`${path.endsWith('*') ? 'Compartment search' : '$everything'} does not support the parameter "${name}" (supported: _count, _since, _type)`);
    }
    const range = dateRange(value);
    if (!range) throw invalidValue(`_since must be a FHIR instant, not "${value}"`);
    since = range.start;
    request.linkParams.set(name, value);
  }
  const members = [compartmentType, ...[...definition.members.keys()].filter((t) => t !== compartmentType).sort()];
  // A caller with scopes gets the types its scopes let it search, narrowed as its searches are.
  const types = (request.types ? members.filter((t) => request.types?.includes(t)) : members).filter((t) => searchable(ctx, t));
  const queries = types.map((type) => {
    const conditions: Condition[] = [compartmentCondition(compartmentType, ownerId, type, ctx.baseUrl) as Condition];
    const restriction = searchRestriction(ctx, type);
    if (restriction) conditions.push(restriction);
    if (since) conditions.push({ kind: 'compare', column: { row: 'last_updated' }, op: '>=', value: since });
    return { resourceType: type, conditions };
  });
  const bundle = await multiTypeResponse(ctx.db, ctx.baseUrl, queries, request, `${ctx.baseUrl}/${path}`);
  auditRead(ctx, 'operation', { type: compartmentType, query: `${path}?${params}` });
  return { bundle };
}
