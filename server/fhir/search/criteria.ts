// FHIR R4 §3.1.1 search criteria (hl7.org/fhir/R4/search.html): one request parameter
// (`name[:modifier]=value,value`) to a condition, including chains (`subject:Patient.name`) and
// reverse chains (`_has:Observation:subject:code`).
import { isResourceType } from '../../../resources/definitions.js';
import { column } from '../../../resources/search/index-values.js';
import { indexedParameters, type ParameterDefinition } from '../../../resources/search/parameters.js';
import { or, type Condition } from '../../store/search/condition.js';
import { invalidValue, notSupported } from '../errors.js';
import { splitValues, unescape } from './search-values.js';
import { tableColumn, type CriterionInput } from './types/context.js';
import { dateCondition, dateValueCondition } from './types/date.js';
import { numberCondition } from './types/number.js';
import { quantityCondition } from './types/quantity.js';
import { referenceCondition } from './types/reference.js';
import { stringCondition } from './types/string.js';
import { tokenCondition } from './types/token.js';
import { uriCondition } from './types/uri.js';
import { compositeCondition } from './types/composite.js';
import { nearCondition } from './types/near.js';
import { missingCondition } from './types/missing.js';

/** An unknown parameter: 400 unless the client asked for lenient handling. */
export class UnknownParameter extends Error {}

const MAX_CHAIN = 4;

export function criterionCondition(resourceType: string, name: string, rawValue: string, baseUrl: string, depth = 0): Condition {
  // No FHIR value holds U+0000, and Postgres text cannot: such a value never reaches the database.
  if (name.includes('\u0000') || rawValue.includes('\u0000')) {
    throw invalidValue(`Search parameter ${JSON.stringify(name)} contains a NUL character (U+0000), which no FHIR value holds`);
  }
  if (depth > MAX_CHAIN) throw notSupported(`Search parameter "${name}": chains may be at most ${MAX_CHAIN} levels deep`);
  if (name.startsWith('_has:')) return hasCondition(resourceType, name, rawValue, baseUrl, depth);
  const dot = name.indexOf('.');
  if (dot > 0) return chainCondition(resourceType, name, dot, rawValue, baseUrl, depth);

  const [code, modifier, ...extra] = name.split(':');
  if (extra.length) throw invalidValue(`Search parameter "${name}" has more than one modifier`);
  if (rawValue === '' && modifier !== 'missing') throw invalidValue(`Search parameter "${name}" has no value`);
  const values = splitValues(rawValue);
  if (code === '_id') return idCondition(name, modifier, values);
  if (code === '_list') return listCondition(resourceType, name, modifier, values, baseUrl);
  if (code === '_content' || code === '_text') {
    if (modifier !== undefined) throw notSupported(`Search parameter "${name}": ${code} takes no modifier`);
    const target = code === '_content' ? 'content' : 'narrative';
    return or(values.map((value) => ({ kind: 'full-text', target, query: unescape(value) })));
  }
  if (code === '_lastUpdated') {
    if (modifier !== undefined) throw notSupported(`Search parameter "${name}": _lastUpdated takes no modifier`);
    const lastUpdated = { row: 'last_updated' as const };
    return or(values.map((value) => dateValueCondition(name, value, lastUpdated, lastUpdated)));
  }
  const parameter = indexedParameters(resourceType).get(code);
  if (!parameter) throw new UnknownParameter(`Unknown search parameter "${code}" for ${resourceType}`);
  const input: CriterionInput = { resourceType, name, parameter, modifier, values, baseUrl, column: tableColumn };
  return conditionFor(input);
}

function conditionFor(input: CriterionInput): Condition {
  switch (input.parameter.type) {
    case 'token':
      return tokenCondition(input);
    case 'string':
      return stringCondition(input);
    case 'reference':
      return referenceCondition(input);
    case 'date':
      return dateCondition(input);
    case 'number':
      return numberCondition(input);
    case 'quantity':
      return quantityCondition(input);
    case 'uri':
      return uriCondition(input);
    case 'composite':
      return compositeCondition(input, conditionFor);
    case 'near':
      return nearCondition(input);
  }
}

function idCondition(name: string, modifier: string | undefined, values: string[]): Condition {
  const ids = values.map(unescape);
  if (modifier === 'missing') {
    return missingCondition({ name, values, resourceType: '', baseUrl: '', parameter: {} as ParameterDefinition, column: tableColumn }, { row: 'id' });
  }
  if (modifier === 'not') return { kind: 'not', condition: { kind: 'in', column: { row: 'id' }, values: ids } };
  if (modifier !== undefined) throw notSupported(`Search parameter "${name}": _id supports only :not and :missing`);
  return { kind: 'in', column: { row: 'id' }, values: ids };
}

/** `_list=42`: the resources List/42 holds as entries (hl7.org/fhir/R4/search.html#list). */
function listCondition(resourceType: string, name: string, modifier: string | undefined, values: string[], baseUrl: string): Condition {
  if (modifier !== undefined) throw notSupported(`Search parameter "${name}": _list takes no modifier`);
  return or(
    values.map((raw) => {
      const id = unescape(raw);
      if (id.startsWith('$')) throw notSupported(`_list: functional lists such as ${id} are not served; name a List by id`);
      if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) throw invalidValue(`_list: "${id}" is not a List id`);
      return { kind: 'listed-in', listId: id, resourceType, baseUrl };
    }),
  );
}

/** The single type a reference parameter can point to, or the one named by its modifier. */
function chainTarget(resourceType: string, parameter: ParameterDefinition, typeModifier: string | undefined, name: string): string {
  if (typeModifier) {
    if (!isResourceType(typeModifier)) throw invalidValue(`Search parameter "${name}": "${typeModifier}" is not a resource type`);
    if (parameter.target.length && !parameter.target.includes(typeModifier)) {
      throw invalidValue(`Search parameter "${name}": ${parameter.code} of ${resourceType} cannot refer to ${typeModifier}`);
    }
    return typeModifier;
  }
  const targets = parameter.target.filter(isResourceType);
  if (targets.length !== 1) {
    throw invalidValue(`Search parameter "${name}": ${parameter.code} may refer to ${targets.join(', ')}; name one, e.g. ${parameter.code}:${targets[0]}.`);
  }
  return targets[0];
}

function chainCondition(resourceType: string, name: string, dot: number, rawValue: string, baseUrl: string, depth: number): Condition {
  const [code, typeModifier, ...extra] = name.slice(0, dot).split(':');
  const parameter = indexedParameters(resourceType).get(code);
  if (!parameter) throw new UnknownParameter(`Unknown search parameter "${code}" for ${resourceType} in chain "${name}"`);
  if (parameter.type !== 'reference' || extra.length) throw invalidValue(`Search parameter "${name}": only reference parameters can be chained`);
  const target = chainTarget(resourceType, parameter, typeModifier, name);
  const where = criterionCondition(target, name.slice(dot + 1), rawValue, baseUrl, depth + 1);
  return { kind: 'references', column: { search: column.main(code) }, resourceType: target, baseUrl, where };
}

/** `_has:Type:reference:parameter=value` (the rest may be another _has). */
function hasCondition(resourceType: string, name: string, rawValue: string, baseUrl: string, depth: number): Condition {
  const match = /^_has:([A-Za-z]+):([a-z][a-z0-9-]*):(.+)$/.exec(name);
  if (!match) throw invalidValue(`Search parameter "${name}": _has is written _has:Type:reference:parameter`);
  const [, type, referenceCode, rest] = match;
  if (!isResourceType(type)) throw invalidValue(`Search parameter "${name}": "${type}" is not a resource type`);
  const reference = indexedParameters(type).get(referenceCode);
  if (!reference || reference.type !== 'reference') throw invalidValue(`Search parameter "${name}": "${referenceCode}" is not a reference parameter of ${type}`);
  if (reference.target.length && !reference.target.includes(resourceType)) {
    throw invalidValue(`Search parameter "${name}": ${type}.${referenceCode} cannot refer to ${resourceType}`);
  }
  const where = criterionCondition(type, rest, rawValue, baseUrl, depth + 1);
  return { kind: 'referenced-by', resourceType: type, referenceColumn: column.main(referenceCode), targetType: resourceType, baseUrl, where };
}
