// FHIR R4 Patient/$everything (hl7.org/fhir/R4/patient-operation-everything.html) and the
// all-types compartment search `Patient/{id}/*` (hl7.org/fhir/R4/http.html#vsearch): the patient
// and every resource in its compartment, paged across types.
import { dateRange } from '../../../resources/fhir-date-range.js';
import { compartment } from '../../../resources/compartments.js';
import { isResourceType } from '../../../resources/definitions.js';
import { column } from '../../../resources/search/index-values.js';
import { or, type Condition } from '../../store/search/condition.js';
import { decodeTypeCursor, encodeTypeCursor, multiTypeBundle, multiTypePage, type TypeCursor } from '../search/multi-type-pages.js';
import type { FhirContext } from '../context.js';
import { badRequest, invalidValue, notFound } from '../errors.js';
import { read } from './read.js';

export interface EverythingPage {
  bundle: string;
}

/** The condition placing rows of `type` in the compartment of `owner` (e.g. Patient/123). */
export function compartmentCondition(compartmentType: string, id: string, type: string): Condition | undefined {
  const definition = compartment(compartmentType);
  if (type === compartmentType) return { kind: 'in', column: { row: 'id' }, values: [id] };
  const params = definition?.members.get(type);
  if (!params) return undefined;
  return or(params.map((code) => ({ kind: 'overlap', column: { search: column.main(code) }, keys: [`${compartmentType}/${id}`] })));
}

/** Every resource in the compartment of `compartmentType`/`id`, the owner first. */
export async function everything(ctx: FhirContext, compartmentType: string, ownerId: string, params: URLSearchParams, path: string): Promise<EverythingPage> {
  await read(ctx, compartmentType, ownerId);
  const definition = compartment(compartmentType);
  if (!definition) throw notFound(`There is no ${compartmentType} compartment`);
  let count = ctx.defaultPageSize;
  let since: Date | undefined;
  let types = [compartmentType, ...[...definition.members.keys()].filter((t) => t !== compartmentType).sort()];
  let cursor: TypeCursor = { typeIndex: 0 };
  const linkParams = new URLSearchParams();
  for (const [name, value] of params) {
    switch (name) {
      case '_count':
        if (!/^[0-9]{1,7}$/.test(value)) throw invalidValue(`_count must be a whole number, not "${value}"`);
        count = Math.max(1, Math.min(Number(value), ctx.maxPageSize));
        break;
      case '_since': {
        const range = dateRange(value);
        if (!range) throw invalidValue(`_since must be a FHIR instant, not "${value}"`);
        since = range.start;
        linkParams.set(name, value);
        break;
      }
      case '_type': {
        const wanted = value.split(',');
        const unknown = wanted.filter((t) => !isResourceType(t));
        if (unknown.length) throw invalidValue(`_type: ${unknown.join(', ')} is not a resource type`);
        types = types.filter((t) => wanted.includes(t));
        linkParams.set(name, value);
        break;
      }
      case '_page': {
        const decoded = decodeTypeCursor(value);
        if (!decoded) throw invalidValue(`_page "${value}" is not a page of this request`);
        cursor = decoded;
        break;
      }
      case '_format':
      case '_pretty':
        linkParams.set(name, value);
        break;
      default:
        throw badRequest(`${path.endsWith('*') ? 'Compartment search' : '$everything'} does not support the parameter "${name}" (supported: _count, _since, _type)`);
    }
  }
  linkParams.set('_count', String(count));

  const queries = types.map((type) => {
    const conditions: Condition[] = [compartmentCondition(compartmentType, ownerId, type) as Condition];
    if (since) conditions.push({ kind: 'compare', column: { row: 'last_updated' }, op: '>=', value: since });
    return { resourceType: type, conditions };
  });
  const { entries, next } = await multiTypePage(ctx.db, ctx.baseUrl, queries, count, cursor);
  const url = (page?: TypeCursor) => {
    const search = new URLSearchParams(linkParams);
    if (page) search.set('_page', encodeTypeCursor(page));
    return `${ctx.baseUrl}/${path}?${search}`;
  };
  const links = [{ relation: 'self', url: url(cursor.typeIndex || cursor.afterId ? cursor : undefined) }];
  if (next) links.push({ relation: 'next', url: url(next) });
  return { bundle: multiTypeBundle(entries, links) };
}
