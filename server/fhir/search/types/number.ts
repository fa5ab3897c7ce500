// FHIR R4 §3.1.1.5.8 number search (hl7.org/fhir/R4/search.html#number): eq and ne use the
// interval the precision of the value implies (100 = [99.5, 100.5)); the other prefixes compare
// with the value itself.
import { column } from '../../../../resources/search/index-values.js';
import { and, or, type Column, type Condition } from '../../../store/search/condition.js';
import { decimalRange, splitPrefix, type Prefix } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { unsupportedModifier } from './unsupported.js';

export function numberValueCondition(name: string, text: string, low: Column, high: Column): Condition {
  const [prefix, number] = splitPrefix(text);
  return numberRangeCondition(prefix, decimalRange(number, name), low, high);
}

/** A searched number as a value and the interval its precision implies, against [low, high]. */
export function numberRangeCondition(prefix: Prefix, searched: { value: number; low: number; high: number }, low: Column, high: Column): Condition {
  const { value, low: from, high: to } = searched;
  const cmp = (c: Column, op: '<' | '<=' | '>' | '>=', v: number): Condition => ({ kind: 'compare', column: c, op, value: v });
  const within = and([cmp(low, '>=', from), cmp(high, '<', to)]);
  switch (prefix) {
    case 'eq':
      return within;
    case 'ne':
      return and([{ kind: 'missing', column: low, missing: false }, { kind: 'not', condition: within }]);
    case 'gt':
    case 'sa':
      return cmp(high, '>', value);
    case 'lt':
    case 'eb':
      return cmp(low, '<', value);
    case 'ge':
      return cmp(high, '>=', value);
    case 'le':
      return cmp(low, '<=', value);
    case 'ap': {
      const margin = Math.abs(value) * 0.1;
      return and([cmp(low, '<=', value + margin), cmp(high, '>=', value - margin)]);
    }
  }
}

export function numberCondition(input: CriterionInput): Condition {
  const { code } = input.parameter;
  const low = input.column(column.low(code), 'numeric');
  const high = input.column(column.high(code), 'numeric');
  if (input.modifier === 'missing') return missingCondition(input, low);
  if (input.modifier !== undefined) return unsupportedModifier(input, ['missing']);
  return or(input.values.map((value) => numberValueCondition(input.name, value, low, high)));
}
