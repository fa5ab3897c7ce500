// FHIR R4 §3.1.1.5.11 token search (hl7.org/fhir/R4/search.html#token).
import { column } from '../../../../resources/search/index-values.js';
import { normalizeString } from '../../../../resources/search/string-values.js';
import { tokenKey } from '../../../../resources/token-values.js';
import { or, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { splitBars, unescape } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { escapeLike } from './string.js';
import { unsupportedModifier } from './unsupported.js';

/** `system|code`, `|code`, `system|` and `code` as the keys the token column stores. */
export function tokenSearchKey(raw: string, name: string): string {
  const parts = splitBars(raw);
  if (parts.length > 2) throw invalidValue(`Search parameter "${name}": "${raw}" has more than one unescaped "|"`);
  if (parts.length === 1) {
    if (!parts[0]) throw invalidValue(`Search parameter "${name}" has an empty value`);
    return tokenKey.code(parts[0]);
  }
  const [system, code] = parts;
  if (!system && !code) throw invalidValue(`Search parameter "${name}": "${raw}" has neither system nor code`);
  if (!system) return tokenKey.codeWithoutSystem(code);
  if (!code) return tokenKey.system(system);
  return tokenKey.systemAndCode(system, code);
}

/** `:of-type` (Identifier): `type system|type code|value`, all three required. */
function ofTypeKey(raw: string, name: string): string {
  const parts = splitBars(raw);
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    throw invalidValue(`Search parameter "${name}": :of-type takes system|code|value (the identifier's type and its value), not "${raw}"`);
  }
  return tokenKey.ofType(parts[0], parts[1], parts[2]);
}

export function tokenCondition(input: CriterionInput): Condition {
  const main = input.column(column.main(input.parameter.code), 'text[]');
  switch (input.modifier) {
    case undefined:
      return { kind: 'overlap', column: main, keys: input.values.map((v) => tokenSearchKey(v, input.name)) };
    case 'not':
      return { kind: 'not', condition: { kind: 'overlap', column: main, keys: input.values.map((v) => tokenSearchKey(v, input.name)) } };
    case 'text':
      return {
        kind: 'like-any',
        column: input.column(column.text(input.parameter.code), 'text[]'),
        patterns: input.values.map((v) => `${escapeLike(normalizeString(unescape(v)))}%`),
      };
    case 'of-type':
      return { kind: 'overlap', column: main, keys: input.values.map((v) => ofTypeKey(v, input.name)) };
    case 'missing':
      return missingCondition(input, main);
    default:
      return unsupportedModifier(input, ['not', 'text', 'of-type', 'missing']);
  }
}

export { or };
