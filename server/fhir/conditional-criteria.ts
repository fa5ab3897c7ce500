// FHIR R4 §3.1.0.8 conditional interactions (hl7.org/fhir/R4/http.html#cond-update): the search
// criteria of If-None-Exist and of conditional update/delete URLs.
import { searchColumn } from '../../resources/search-columns.js';
import { tokenKey } from '../../resources/token-values.js';
import type { MatchCriteria } from '../store/match-query.js';
import { badRequest, notSupported } from './errors.js';

/** Parameters that shape a response rather than select resources. */
const RESULT_PARAMETERS = new Set(['_format', '_pretty', '_summary', '_elements']);

export function parseCriteria(resourceType: string, query: string, source: string): MatchCriteria {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const criteria: MatchCriteria = { idAnyOf: [], tokens: [] };
  let count = 0;
  for (const [name, value] of params) {
    if (RESULT_PARAMETERS.has(name)) continue;
    count++;
    if (!value) throw badRequest(`${source}: parameter "${name}" has no value`);
    const values = value.split(',');
    if (values.some((v) => v === '')) throw badRequest(`${source}: parameter "${name}" has an empty value`);
    if (name === '_id') {
      criteria.idAnyOf.push(values);
    } else if (searchColumn(resourceType, name)) {
      criteria.tokens.push({ code: name, anyOf: values.map(tokenSearchKey) });
    } else {
      throw notSupported(`${source}: search parameter "${name}" is not supported for ${resourceType} here (supported: _id${searchColumn(resourceType, 'identifier') ? ', identifier' : ''})`);
    }
  }
  if (count === 0) throw badRequest(`${source} must contain search criteria, e.g. identifier=system|value`);
  return criteria;
}

/** `system|code`, `|code`, `system|` and `code` to the key the token column stores. */
function tokenSearchKey(value: string): string {
  const bar = value.indexOf('|');
  if (bar < 0) return tokenKey.code(value);
  const system = value.slice(0, bar);
  const code = value.slice(bar + 1);
  if (!system && !code) throw badRequest(`Token "${value}" has neither system nor code`);
  if (!system) return tokenKey.codeWithoutSystem(code);
  if (!code) return tokenKey.system(system);
  return tokenKey.systemAndCode(system, code);
}
