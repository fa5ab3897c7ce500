// FHIR R4 §3.1.1.5.1 :missing (hl7.org/fhir/R4/search.html#modifiers).
import type { Column, Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import type { CriterionInput } from './context.js';

export function missingCondition(input: CriterionInput, column: Column): Condition {
  if (input.values.length !== 1 || !['true', 'false'].includes(input.values[0])) {
    throw invalidValue(`Search parameter "${input.name}": :missing takes true or false, not "${input.values.join(',')}"`);
  }
  return { kind: 'missing', column, missing: input.values[0] === 'true' };
}
