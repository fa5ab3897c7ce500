// FHIR R4 §3.1.1 system search `GET /fhir?_type=Patient,Observation&…` (hl7.org/fhir/R4/http.html#search):
// the same criteria applied to each type named, results paged type after type.
import { resourceTypes } from '../../../resources/definitions.js';
import type { Condition } from '../../store/search/condition.js';
import type { FhirContext } from '../context.js';
import { badRequest, notSupported } from '../errors.js';
import { criterionCondition, UnknownParameter } from '../search/criteria.js';
import { multiTypeResponse, newMultiTypeRequest, readSharedParameter } from '../search/multi-type-pages.js';
import { restrictSearchConditions, searchable, searchRestriction } from '../access-checks.js';
import { auditRead } from '../audit-hooks.js';

const UNSUPPORTED = new Set(['_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_contained']);

export async function systemSearch(ctx: FhirContext, params: [string, string][]): Promise<string> {
  const request = newMultiTypeRequest(ctx.defaultPageSize);
  const criteria: [string, string][] = [];
  for (const [name, value] of params) {
    const base = name.split(':')[0];
    if (UNSUPPORTED.has(base)) throw notSupported(`${base} is not supported in a search across types; search one type for it`);
    if (readSharedParameter(request, name, value, ctx.maxPageSize)) continue;
    criteria.push([name, value]);
    request.linkParams.append(name, value);
  }
  // Without _type, a caller with scopes sees the types its scopes allow (and that could be within its reach), not a refusal.
  const types = request.types ? [...request.types].sort() : [...resourceTypes()].filter((type) => searchable(ctx, type));
  const queries = types.map((resourceType) => {
    const parsed: Condition[] = criteria.map(([name, value]) => {
      try {
        return criterionCondition(resourceType, name, value, ctx.baseUrl);
      } catch (error) {
        if (error instanceof UnknownParameter) throw badRequest(`${error.message}: a search across types may use only parameters every type named in _type has`);
        throw error;
      }
    });
    const restriction = searchRestriction(ctx, resourceType);
    const conditions = restrictSearchConditions(ctx, parsed);
    if (restriction) conditions.push(restriction);
    return { resourceType, conditions };
  });
  const bundle = await multiTypeResponse(ctx.db, ctx.baseUrl, queries, request, ctx.baseUrl);
  auditRead(ctx, 'search-system', { query: `?${new URLSearchParams(params)}` });
  return bundle;
}
