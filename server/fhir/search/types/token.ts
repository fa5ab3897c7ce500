// FHIR R4 §3.1.1.5.11 token search (hl7.org/fhir/R4/search.html#token).
import { column } from '../../../../resources/search/index-values.js';
import { normalizeString } from '../../../../resources/search/string-values.js';
import { tokenKey } from '../../../../resources/token-values.js';
import type { Condition } from '../../../store/search/condition.js';
import { codesAbove, codesBelow, valueSetCodes } from '../../../../resources/terminology/terminology-service.js';
import { invalidValue, notSupported } from '../../errors.js';
import { splitBars, unescape } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { assertPrefixSearchable, escapeLike } from './string.js';
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

/** The system|code keys of every code in a value set (`:in`, `:not-in`). */
function valueSetKeys(url: string, name: string): string[] {
  const codes = valueSetCodes(url);
  if (!codes) throw notSupported(`Search parameter "${name}": value set ${url} is not one Kiln can list completely (only the value sets of the R4 specification whose codes it holds)`);
  const keys: string[] = [];
  for (const [system, systemCodes] of codes) {
    for (const code of systemCodes) {
      keys.push(tokenKey.systemAndCode(system, code));
      // Elements of type code (Patient.gender) carry no system: the binding implies it.
      keys.push(tokenKey.codeWithoutSystem(code));
    }
  }
  // An empty value set matches nothing: a key no column holds.
  return keys.length ? keys : ['\u0006'];
}

/** `system|code` and the codes below or above it in that code system's hierarchy. */
function subsumptionKeys(raw: string, name: string, direction: 'below' | 'above'): string[] {
  const parts = splitBars(raw);
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw invalidValue(`Search parameter "${name}": :${direction} takes system|code, not "${raw}"`);
  const [system, code] = parts;
  const codes = direction === 'below' ? codesBelow(system, code) : codesAbove(system, code);
  if (!codes) throw notSupported(`Search parameter "${name}": Kiln does not know the hierarchy of ${system} (or its code ${code}) to search :${direction}`);
  return [...codes].map((c) => tokenKey.systemAndCode(system, c));
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
      assertPrefixSearchable(input.name, input.values.map((v) => normalizeString(unescape(v))));
      return {
        kind: 'like-any',
        column: input.column(column.text(input.parameter.code), 'text[]'),
        patterns: input.values.map((v) => `${escapeLike(normalizeString(unescape(v)))}%`),
      };
    case 'in':
    case 'not-in': {
      const keys = input.values.flatMap((v) => valueSetKeys(unescape(v), input.name));
      const inSet: Condition = { kind: 'overlap', column: main, keys };
      return input.modifier === 'in' ? inSet : { kind: 'not', condition: inSet };
    }
    case 'below':
    case 'above':
      return { kind: 'overlap', column: main, keys: input.values.flatMap((v) => subsumptionKeys(v, input.name, input.modifier as 'below' | 'above')) };
    case 'of-type':
      return { kind: 'overlap', column: main, keys: input.values.map((v) => ofTypeKey(v, input.name)) };
    case 'missing':
      return missingCondition(input, main);
    default:
      return unsupportedModifier(input, ['not', 'text', 'in', 'not-in', 'below', 'above', 'of-type', 'missing']);
  }
}

