// FHIR R4 §3.1.1.5.6 composite search (hl7.org/fhir/R4/search.html#composite):
// `code-value-quantity=http://loinc.org|8480-6$gt100`, every part matched within the same item
// (the same Observation.component, for the component-* parameters).
import { column } from '../../../../resources/search/index-values.js';
import { and, or, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { splitDollars } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { tokenSearchKey } from './token.js';
import { unsupportedModifier } from './unsupported.js';

export function compositeCondition(input: CriterionInput, partCondition: (part: CriterionInput) => Condition): Condition {
  const code = input.parameter.code;
  if (input.modifier === 'missing') return missingCondition(input, { search: column.main(code) });
  if (input.modifier !== undefined) return unsupportedModifier(input, ['missing']);
  const parts = input.parameter.components ?? [];
  return or(
    input.values.map((value) => {
      const pieces = splitDollars(value);
      if (pieces.length !== parts.length) {
        throw invalidValue(`Search parameter "${input.name}": "${value}" needs ${parts.length} parts separated by $`);
      }
      const conditions = pieces.map((piece, index) =>
        partCondition({
          ...input,
          name: `${input.name} (part ${index + 1})`,
          parameter: { ...input.parameter, code: String(index), type: parts[index].type, components: undefined },
          modifier: undefined,
          values: [piece],
          column: (name, sqlType) => ({ element: 'e', field: name, sqlType }),
        }),
      );
      // A token part narrows the rows through the column's GIN index before items are inspected.
      const tokenPart = parts.findIndex((p) => p.type === 'token');
      const containing = tokenPart >= 0 ? [{ [String(tokenPart)]: [tokenSearchKey(pieces[tokenPart], input.name)] }] : undefined;
      return { kind: 'any-item', column: column.main(code), containing, where: and(conditions) };
    }),
  );
}
