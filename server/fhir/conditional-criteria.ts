// FHIR R4 §3.1.0.8 conditional interactions (hl7.org/fhir/R4/http.html#cond-update): the search
// criteria of If-None-Exist and of conditional update/delete URLs, answered by search.
import type { Condition } from '../store/search/condition.js';
import { confineCriteria } from './access-checks.js';
import type { FhirContext } from './context.js';
import { badRequest } from './errors.js';
import { criterionCondition, UnknownParameter } from './search/criteria.js';

/** Parameters that shape a response rather than select resources. */
const RESULT_PARAMETERS = new Set(['_format', '_pretty', '_summary', '_elements']);

/** The criteria as conditions, evaluated only within the caller's reach. */
export function parseCriteria(ctx: FhirContext, resourceType: string, query: string, source: string): Condition[] {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const conditions: Condition[] = [];
  for (const [name, value] of params) {
    if (RESULT_PARAMETERS.has(name)) continue;
    if (!value) throw badRequest(`${source}: parameter "${name}" has no value`);
    try {
      conditions.push(criterionCondition(resourceType, name, value, ctx.baseUrl));
    } catch (error) {
      if (error instanceof UnknownParameter) throw badRequest(`${source}: ${error.message}`);
      throw error;
    }
  }
  if (conditions.length === 0) throw badRequest(`${source} must contain search criteria, e.g. identifier=system|value`);
  return confineCriteria(ctx, resourceType, conditions);
}
