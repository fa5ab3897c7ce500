// FHIR R4 §3.1.1.5.10 quantity search (hl7.org/fhir/R4/search.html#quantity):
// `[prefix]number|system|code`, `[prefix]number||code`, or the number alone.
import { column, unitKey } from '../../../../resources/search/index-values.js';
import { and, or, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { splitBars } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { numberValueCondition } from './number.js';
import { unsupportedModifier } from './unsupported.js';

export function quantityCondition(input: CriterionInput): Condition {
  const { code } = input.parameter;
  const low = input.column(column.low(code), 'numeric');
  const high = input.column(column.high(code), 'numeric');
  if (input.modifier === 'missing') return missingCondition(input, low);
  if (input.modifier !== undefined) return unsupportedModifier(input, ['missing']);
  return or(
    input.values.map((value) => {
      const parts = splitBars(value);
      if (parts.length !== 1 && parts.length !== 3) {
        throw invalidValue(`Search parameter "${input.name}": "${value}" is not [prefix]number|system|code`);
      }
      const number = numberValueCondition(input.name, parts[0], low, high);
      if (parts.length === 1) return number;
      const [, system, unit] = parts;
      if (!unit) return number;
      // Without a system the code may be a code or a unit as written.
      const keys = system ? [unitKey.systemAndCode(system, unit)] : [unitKey.code(unit), unitKey.unit(unit)];
      return and([number, { kind: 'overlap', column: input.column(column.main(code), 'text[]'), keys }]);
    }),
  );
}
