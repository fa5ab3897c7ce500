// FHIR R4 §3.1.1.5.10 quantity search (hl7.org/fhir/R4/search.html#quantity):
// `[prefix]number|system|code`, `[prefix]number||code`, or the number alone.
import { column, unitKey } from '../../../../resources/search/index-values.js';
import { and, or, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { decimalRange, splitBars, splitPrefix } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { numberRangeCondition, numberValueCondition } from './number.js';
import { canonicalUnit, UCUM } from '../../../../resources/search/ucum.js';
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
      if (parts.length === 1 || !parts[2]) return numberValueCondition(input.name, parts[0], low, high);
      const [text, system, unit] = parts;
      const canonical = system === UCUM ? canonicalUnit(unit) : undefined;
      if (canonical) {
        // mg, g and kg all compare in grams: scale the value and its precision interval alike.
        const [prefix, number] = splitPrefix(text);
        const searched = decimalRange(number, input.name);
        const scaled = { value: searched.value * canonical.factor, low: searched.low * canonical.factor, high: searched.high * canonical.factor };
        return and([
          numberRangeCondition(prefix, scaled, input.column(column.canonicalLow(code), 'numeric'), input.column(column.canonicalHigh(code), 'numeric')),
          { kind: 'overlap', column: input.column(column.main(code), 'text[]'), keys: [unitKey.canonical(canonical.unit)] },
        ]);
      }
      const number = numberValueCondition(input.name, text, low, high);
      // Without a system the code may be a code or a unit as written.
      const keys = system ? [unitKey.systemAndCode(system, unit)] : [unitKey.code(unit), unitKey.unit(unit)];
      return and([number, { kind: 'overlap', column: input.column(column.main(code), 'text[]'), keys }]);
    }),
  );
}
