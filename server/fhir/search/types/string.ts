// FHIR R4 §3.1.1.5.13 string search (hl7.org/fhir/R4/search.html#string): starts-with by default,
// case- and accent-insensitive; :exact and :contains.
import { column } from '../../../../resources/search/index-values.js';
import { PREFIX_SEARCH_LIMIT_BYTES, prefixSearchable } from '../../../../resources/search/bounded-keys.js';
import { normalizeString } from '../../../../resources/search/string-values.js';
import type { Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { unescape } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { unsupportedModifier } from './unsupported.js';

export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Long strings are indexed by their first PREFIX_SEARCH_LIMIT_BYTES (resources/search/bounded-keys.ts):
 * a value matched by starts-with or :contains must fit in that much to be answered exactly.
 */
export function assertPrefixSearchable(name: string, values: string[]): void {
  if (values.every(prefixSearchable)) return;
  throw invalidValue(`Search parameter "${name}": a value searched by prefix or substring may be at most ${PREFIX_SEARCH_LIMIT_BYTES} bytes (as UTF-8); search long values with :exact`);
}

export function stringCondition(input: CriterionInput): Condition {
  const { code } = input.parameter;
  const values = input.values.map(unescape);
  if (input.modifier !== 'missing' && values.some((v) => v === '')) throw invalidValue(`Search parameter "${input.name}" has an empty value`);
  if (input.modifier === undefined || input.modifier === 'contains') assertPrefixSearchable(input.name, values.map(normalizeString));
  switch (input.modifier) {
    case undefined:
      return { kind: 'like-any', column: input.column(column.main(code), 'text[]'), patterns: values.map((v) => `${escapeLike(normalizeString(v))}%`) };
    case 'contains':
      return { kind: 'like-any', column: input.column(column.main(code), 'text[]'), patterns: values.map((v) => `%${escapeLike(normalizeString(v))}%`) };
    case 'exact':
      return { kind: 'overlap', column: input.column(column.exact(code), 'text[]'), keys: values };
    case 'missing':
      return missingCondition(input, input.column(column.main(code), 'text[]'));
    default:
      return unsupportedModifier(input, ['exact', 'contains', 'missing']);
  }
}
