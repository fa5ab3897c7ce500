// FHIR R4 §3.1.1 search request (hl7.org/fhir/R4/search.html): the parameters of a search turned
// into a plan, strictly: an unknown parameter, modifier or malformed value is a 400 naming it,
// unless the client sent `Prefer: handling=lenient`, which ignores unknown parameters.
import { isResourceType } from '../../../resources/definitions.js';
import { column } from '../../../resources/search/index-values.js';
import { indexedParameters } from '../../../resources/search/parameters.js';
import type { Condition, SortExpression } from '../../store/search/condition.js';
import type { SearchPage } from '../../store/search/search-sql.js';
import { badRequest, invalidValue, notSupported } from '../errors.js';
import { parseSubset, type Subset } from '../subsetting.js';
import { criterionCondition, UnknownParameter } from './criteria.js';
import { cursorFits, decodeCursor } from './cursor.js';
import { withPairedConditions } from './paired-conditions.js';

export interface IncludeRequest {
  /** The type whose reference parameter is followed. */
  sourceType: string;
  /** The reference parameter, or '*' for all of them. */
  code: string;
  targetType?: string;
  iterate: boolean;
}

export interface ParsedSearch {
  resourceType: string;
  conditions: Condition[];
  sort: SortExpression[];
  count: number;
  page?: SearchPage;
  total: 'none' | 'estimate' | 'accurate';
  summaryCount: boolean;
  subset?: Subset;
  include: IncludeRequest[];
  revinclude: IncludeRequest[];
  /** `_contained` and `_containedType`. */
  contained: 'false' | 'true' | 'both';
  containedType: 'container' | 'contained';
  /** Unknown parameters ignored under lenient handling. */
  ignored: string[];
  /** The request's parameters without paging, for self and next links. */
  linkParams: [string, string][];
}

export interface SearchLimits {
  defaultCount: number;
  maxCount: number;
  baseUrl: string;
  lenient: boolean;
}

const RESULT_PARAMETERS = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_page', '_format', '_pretty', '_contained', '_containedType']);

export function parseSearch(resourceType: string, params: [string, string][], limits: SearchLimits): ParsedSearch {
  const plan: ParsedSearch = {
    resourceType,
    conditions: [],
    sort: [],
    count: limits.defaultCount,
    total: 'none',
    summaryCount: false,
    include: [],
    revinclude: [],
    contained: 'false',
    containedType: 'container',
    ignored: [],
    linkParams: [],
  };
  const subsetQuery: Record<string, string> = {};
  for (const [name, value] of params) {
    const base = name.split(':')[0];
    if (!RESULT_PARAMETERS.has(base)) {
      try {
        plan.conditions.push(criterionCondition(resourceType, name, value, limits.baseUrl));
        plan.linkParams.push([name, value]);
      } catch (error) {
        if (!(error instanceof UnknownParameter)) throw error;
        if (!limits.lenient) throw badRequest(`${error.message}. Send Prefer: handling=lenient to ignore unknown parameters.`);
        plan.ignored.push(name);
      }
      continue;
    }
    if (base !== '_page') plan.linkParams.push([name, value]);
    switch (base) {
      case '_count':
        if (!/^[0-9]{1,7}$/.test(value)) throw invalidValue(`_count must be a whole number, not "${value}"`);
        plan.count = Math.min(Number(value), limits.maxCount);
        break;
      case '_sort':
        plan.sort = parseSort(resourceType, value);
        break;
      case '_total':
        if (value !== 'none' && value !== 'estimate' && value !== 'accurate') throw invalidValue(`_total must be none, estimate or accurate, not "${value}"`);
        plan.total = value;
        break;
      case '_summary':
        if (value === 'count') plan.summaryCount = true;
        subsetQuery._summary = value;
        break;
      case '_elements':
        subsetQuery._elements = value;
        break;
      case '_include':
      case '_revinclude':
        (base === '_include' ? plan.include : plan.revinclude).push(parseInclude(name, value, resourceType));
        break;
      case '_page': {
        const page = decodeCursor(value);
        if (!page) throw invalidValue(`_page "${value}" is not a page of this search`);
        plan.page = page;
        break;
      }
      case '_contained':
        if (value !== 'false' && value !== 'true' && value !== 'both') throw invalidValue(`_contained must be false, true or both, not "${value}"`);
        plan.contained = value;
        break;
      case '_containedType':
        if (value !== 'container' && value !== 'contained') throw invalidValue(`_containedType must be container or contained, not "${value}"`);
        plan.containedType = value;
        break;
      default:
        break;
    }
  }
  const cursor = plan.page?.after ?? plan.page?.before;
  if (cursor && !cursorFits(cursor, plan.sort)) throw invalidValue('_page does not belong to this search (it does not fit its sort)');
  plan.conditions = withPairedConditions(resourceType, plan.conditions);
  if (plan.summaryCount) {
    plan.count = 0;
    if (plan.total === 'none') plan.total = 'accurate';
  } else {
    plan.subset = parseSubset(subsetQuery, true);
  }
  return plan;
}

function parseSort(resourceType: string, value: string): SortExpression[] {
  if (!value) throw invalidValue('_sort needs at least one parameter');
  return value.split(',').map((entry) => {
    const descending = entry.startsWith('-');
    const code = descending ? entry.slice(1) : entry;
    if (code === '_id') return { column: { row: 'id' }, descending, array: false, sqlType: 'text' };
    if (code === '_lastUpdated') return { column: { row: 'last_updated' }, descending, array: false, sqlType: 'timestamptz' };
    const parameter = indexedParameters(resourceType).get(code);
    if (!parameter) throw badRequest(`_sort: unknown search parameter "${code}" for ${resourceType}`);
    switch (parameter.type) {
      case 'date':
        return { column: { search: descending ? column.high(code) : column.low(code) }, descending, array: false, sqlType: 'timestamptz' };
      case 'number':
      case 'quantity':
        return { column: { search: descending ? column.high(code) : column.low(code) }, descending, array: false, sqlType: 'numeric' };
      case 'composite':
      case 'near':
        throw badRequest(`_sort: ${parameter.type} parameter "${code}" has no order`);
      default:
        return { column: { search: column.main(code) }, descending, array: true, sqlType: 'text' };
    }
  });
}

function parseInclude(name: string, value: string, resourceType: string): IncludeRequest {
  const modifier = name.split(':')[1];
  if (modifier !== undefined && modifier !== 'iterate' && modifier !== 'recurse') {
    throw notSupported(`${name}: the only modifier is :iterate`);
  }
  const iterate = modifier !== undefined;
  if (value === '*') return { sourceType: resourceType, code: '*', iterate };
  const [sourceType, code, targetType, ...extra] = value.split(':');
  if (!sourceType || !code || extra.length || !isResourceType(sourceType)) {
    throw invalidValue(`${name}="${value}" is not Type:parameter[:targetType]`);
  }
  if (code !== '*') {
    const parameter = indexedParameters(sourceType).get(code);
    if (!parameter || parameter.type !== 'reference') throw invalidValue(`${name}: "${code}" is not a reference parameter of ${sourceType}`);
    if (targetType && parameter.target.length && !parameter.target.includes(targetType)) {
      throw invalidValue(`${name}: ${sourceType}.${code} cannot refer to ${targetType}`);
    }
  }
  if (targetType && !isResourceType(targetType)) throw invalidValue(`${name}: "${targetType}" is not a resource type`);
  return { sourceType, code, targetType, iterate };
}
