import { notSupported } from '../../errors.js';
import type { CriterionInput } from './context.js';

/** A modifier the parameter's type does not allow, or Kiln does not answer: say which ones work. */
export function unsupportedModifier(input: CriterionInput, supported: string[]): never {
  throw notSupported(
    `Search parameter "${input.name}": modifier ":${input.modifier}" is not supported for ${input.parameter.type} parameters` +
      (supported.length ? ` (supported: ${supported.map((m) => `:${m}`).join(', ')})` : ''),
  );
}
