// FHIR R4 §3.1.1.5.12 reference search (hl7.org/fhir/R4/search.html#reference): `Type/id`, the id
// alone, an absolute URL, `:Type`, `:identifier`.
import { isResourceType } from '../../../../resources/definitions.js';
import { column, referenceKey } from '../../../../resources/search/index-values.js';
import type { Condition } from '../../../store/search/condition.js';
import { invalidValue, notSupported } from '../../errors.js';
import { unescape } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { tokenSearchKey } from './token.js';

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** The keys a reference value may be stored under: `Type/id`, and this server's absolute URL for it. */
export function referenceKeysFor(raw: string, input: CriterionInput, typeModifier?: string): string[] {
  const key = referenceKeyFor(raw, input, typeModifier);
  return /^[A-Z][A-Za-z]+\//.test(key) ? [key, referenceKey.url(`${input.baseUrl}/${key}`)] : [key];
}

function referenceKeyFor(raw: string, input: CriterionInput, typeModifier?: string): string {
  const value = unescape(raw);
  if (!value) throw invalidValue(`Search parameter "${input.name}" has an empty value`);
  const local = value.startsWith(`${input.baseUrl}/`) ? value.slice(input.baseUrl.length + 1) : value;
  const typed = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[0-9]+)?$/.exec(local);
  if (typed) {
    if (typeModifier && typed[1] !== typeModifier) throw invalidValue(`Search parameter "${input.name}": "${value}" is not a ${typeModifier}`);
    return referenceKey.typed(typed[1], typed[2]);
  }
  if (ID.test(local)) return typeModifier ? referenceKey.typed(typeModifier, local) : referenceKey.idOnly(local);
  if (/^[a-z][a-z0-9+.-]*:/i.test(value)) return referenceKey.url(value.split('|')[0]);
  throw invalidValue(`Search parameter "${input.name}": "${value}" is not a reference (Type/id, id or URL)`);
}

export function referenceCondition(input: CriterionInput): Condition {
  const main = input.column(column.main(input.parameter.code), 'text[]');
  const modifier = input.modifier;
  if (modifier === 'missing') return missingCondition(input, main);
  if (modifier === 'identifier') {
    return { kind: 'overlap', column: main, keys: input.values.map((v) => referenceKey.identifier(tokenSearchKey(v, input.name))) };
  }
  if (modifier !== undefined) {
    if (!isResourceType(modifier)) {
      throw notSupported(`Search parameter "${input.name}": modifier ":${modifier}" is not supported for reference parameters (supported: :[type], :identifier, :missing)`);
    }
    const targets = input.parameter.target;
    if (targets.length && !targets.includes(modifier)) {
      throw invalidValue(`Search parameter "${input.name}": ${input.parameter.code} cannot refer to ${modifier} (it refers to ${targets.join(', ')})`);
    }
  }
  return { kind: 'overlap', column: main, keys: input.values.flatMap((v) => referenceKeysFor(v, input, modifier)) };
}
