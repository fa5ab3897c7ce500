// FHIR R4 §3.1.1.5.5 date search (hl7.org/fhir/R4/search.html#date): both the value searched for
// and the value stored are intervals; the prefixes compare them as the specification defines.
import { dateRange } from '../../../../resources/fhir-date-range.js';
import { column } from '../../../../resources/search/index-values.js';
import { and, or, type Column, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { splitPrefix, type Prefix } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { unsupportedModifier } from './unsupported.js';

/** Target interval [low, high) against search interval [start, end). */
export function rangeTest(prefix: Prefix, low: Column, high: Column, start: Date | number, end: Date | number, approx: number | Date[]): Condition {
  const cmp = (c: Column, op: '<' | '<=' | '>' | '>=', value: Date | number): Condition => ({ kind: 'compare', column: c, op, value });
  const within = and([cmp(low, '>=', start), cmp(high, '<=', end)]);
  switch (prefix) {
    case 'eq':
      return within;
    case 'ne':
      return and([{ kind: 'missing', column: low, missing: false }, { kind: 'not', condition: within }]);
    case 'gt':
      return cmp(high, '>', end);
    case 'lt':
      return cmp(low, '<', start);
    case 'ge':
      return or([cmp(high, '>', end), within]);
    case 'le':
      return or([cmp(low, '<', start), within]);
    case 'sa':
      return cmp(low, '>=', end);
    case 'eb':
      return cmp(high, '<=', start);
    case 'ap': {
      const [from, to] = approx as [Date | number, Date | number];
      return and([cmp(low, '<', to), cmp(high, '>', from)]);
    }
  }
}

export function dateCondition(input: CriterionInput): Condition {
  const { code } = input.parameter;
  const low = input.column(column.low(code), 'timestamptz');
  const high = input.column(column.high(code), 'timestamptz');
  if (input.modifier === 'missing') return missingCondition(input, low);
  if (input.modifier !== undefined) return unsupportedModifier(input, ['missing']);
  return or(input.values.map((value) => dateValueCondition(input.name, value, low, high)));
}

export function dateValueCondition(name: string, value: string, low: Column, high: Column): Condition {
  const [prefix, text] = splitPrefix(value);
  const range = dateRange(text);
  if (!range) throw invalidValue(`Search parameter "${name}": "${text}" is not a date, dateTime or instant`);
  // ap: the interval widened by 10% of its distance from now (at least a day), as R4 suggests.
  const margin = Math.max(Math.abs(Date.now() - range.start.getTime()) * 0.1, 86_400_000);
  const approx = [new Date(range.start.getTime() - margin), new Date(range.end.getTime() + margin)];
  return rangeTest(prefix, low, high, range.start, range.end, approx);
}
