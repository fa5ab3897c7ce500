// FHIR R4 §3.1.1.5.14 uri search (hl7.org/fhir/R4/search.html#uri): exact, :below, :above.
import { column } from '../../../../resources/search/index-values.js';
import type { Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { unescape } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { assertPrefixSearchable, escapeLike } from './string.js';
import { unsupportedModifier } from './unsupported.js';

export function uriCondition(input: CriterionInput): Condition {
  const main = input.column(column.main(input.parameter.code), 'text[]');
  const values = input.values.map(unescape);
  if (input.modifier !== 'missing' && values.some((v) => v === '')) throw invalidValue(`Search parameter "${input.name}" has an empty value`);
  if (input.modifier === 'below' || input.modifier === 'above') assertPrefixSearchable(input.name, values);
  switch (input.modifier) {
    case undefined:
      return { kind: 'overlap', column: main, keys: values };
    case 'below':
      return { kind: 'like-any', column: main, patterns: values.map((v) => `${escapeLike(v)}%`) };
    case 'above':
      return { kind: 'prefix-of-any', column: main, values };
    case 'missing':
      return missingCondition(input, main);
    default:
      return unsupportedModifier(input, ['below', 'above', 'missing']);
  }
}
