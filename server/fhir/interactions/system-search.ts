// FHIR R4 §3.1.1 system search `GET /fhir?_type=Patient,Observation&…` (hl7.org/fhir/R4/http.html#search):
// the same criteria applied to each type named, results paged type after type.
import { isResourceType, resourceTypes } from '../../../resources/definitions.js';
import type { Condition } from '../../store/search/condition.js';
import type { FhirContext } from '../context.js';
import { badRequest, invalidValue, notSupported } from '../errors.js';
import { criterionCondition, UnknownParameter } from '../search/criteria.js';
import { decodeTypeCursor, encodeTypeCursor, multiTypeBundle, multiTypePage, type TypeCursor } from '../search/multi-type-pages.js';

const UNSUPPORTED = new Set(['_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_contained']);

export async function systemSearch(ctx: FhirContext, params: [string, string][]): Promise<string> {
  let types = [...resourceTypes()];
  let count = ctx.defaultPageSize;
  let cursor: TypeCursor = { typeIndex: 0 };
  const criteria: [string, string][] = [];
  const linkParams = new URLSearchParams();
  for (const [name, value] of params) {
    const base = name.split(':')[0];
    if (UNSUPPORTED.has(base)) throw notSupported(`${base} is not supported in a search across types; search one type for it`);
    switch (base) {
      case '_type': {
        const named = value.split(',');
        const unknown = named.filter((t) => !isResourceType(t));
        if (unknown.length) throw invalidValue(`_type: ${unknown.join(', ')} is not a resource type`);
        types = [...new Set(named)].sort();
        linkParams.set(name, value);
        break;
      }
      case '_count':
        if (!/^[0-9]{1,7}$/.test(value)) throw invalidValue(`_count must be a whole number, not "${value}"`);
        count = Math.max(1, Math.min(Number(value), ctx.maxPageSize));
        break;
      case '_page': {
        const decoded = decodeTypeCursor(value);
        if (!decoded) throw invalidValue(`_page "${value}" is not a page of this search`);
        cursor = decoded;
        break;
      }
      case '_format':
      case '_pretty':
        linkParams.append(name, value);
        break;
      default:
        criteria.push([name, value]);
        linkParams.append(name, value);
    }
  }
  const queries = types.map((resourceType) => {
    const conditions: Condition[] = criteria.map(([name, value]) => {
      try {
        return criterionCondition(resourceType, name, value, ctx.baseUrl);
      } catch (error) {
        if (error instanceof UnknownParameter) throw badRequest(`${error.message}: a search across types may use only parameters every type named in _type has`);
        throw error;
      }
    });
    return { resourceType, conditions };
  });
  linkParams.set('_count', String(count));
  const { entries, next } = await multiTypePage(ctx.db, ctx.baseUrl, queries, count, cursor);
  const url = (page?: TypeCursor) => {
    const search = new URLSearchParams(linkParams);
    if (page) search.set('_page', encodeTypeCursor(page));
    return `${ctx.baseUrl}?${search}`;
  };
  const links = [{ relation: 'self', url: url(cursor.typeIndex || cursor.afterId ? cursor : undefined) }];
  if (next) links.push({ relation: 'next', url: url(next) });
  return multiTypeBundle(entries, links);
}
