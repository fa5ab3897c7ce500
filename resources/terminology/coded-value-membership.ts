// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required) as they apply to
// each coded datatype: code, Coding and CodeableConcept.
import type { AllowedCodes, CodedValueKind } from './required-binding-rules.js';

/**
 * Why `value` breaks the required binding, or undefined if it keeps it (or holds nothing to judge).
 *
 * R4 defines required as "To be conformant, the concept in this element SHALL be from the
 * specified value set", where extensible adds "alternate codings (or, data type allowing, text)
 * may be included instead"; required grants no such alternative. Hence:
 * - `code`: the code must be one of the value set's codes; its system is implied by the binding.
 * - `Coding`: system + code must be in the value set. A Coding without a code asserts no concept.
 * - `CodeableConcept`: at least one coding must be a member; other codings may travel along as
 *   translations. Text, or codings without a code, name no concept from the value set, so a
 *   CodeableConcept holding only those fails too.
 *
 * A coding that omits `system` is judged by its code alone: it breaks the binding only if no
 * system of the value set has that code, since anything else could not be proved wrong.
 * Values that are not of the expected JSON shape are left to structural validation, and so is
 * a value that carries only extensions (e.g. data-absent-reason): it asserts no concept.
 */
export function bindingViolation(kind: CodedValueKind, value: unknown, allowed: AllowedCodes): string | undefined {
  switch (kind) {
    case 'code':
      return typeof value === 'string' && !allowed.anySystem.has(value) ? notInValueSet([value], allowed) : undefined;
    case 'Coding':
      return isObject(value) && typeof value.code === 'string' && !isMember(value, allowed)
        ? notInValueSet([codingLabel(value)], allowed)
        : undefined;
    case 'CodeableConcept':
      return isObject(value) ? codeableConceptViolation(value, allowed) : undefined;
  }
}

function codeableConceptViolation(concept: Record<string, unknown>, allowed: AllowedCodes): string | undefined {
  const codings = Array.isArray(concept.coding) ? concept.coding.filter(isObject) : [];
  const coded = codings.filter((coding) => typeof coding.code === 'string');
  if (coded.some((coding) => isMember(coding, allowed))) return undefined;
  if (coded.length > 0) return notInValueSet(coded.map(codingLabel), allowed);
  if (codings.length > 0 || concept.text !== undefined) {
    return (
      `No code from the required value set ${allowed.valueSetUrl}: ` +
      'a CodeableConcept bound to it needs a coding from it, text alone is not enough'
    );
  }
  return undefined;
}

function isMember(coding: Record<string, unknown>, allowed: AllowedCodes): boolean {
  const code = coding.code as string;
  if (typeof coding.system !== 'string') return allowed.anySystem.has(code);
  return allowed.codesBySystem.get(coding.system)?.has(code) ?? false;
}

function codingLabel(coding: Record<string, unknown>): string {
  return typeof coding.system === 'string' ? `${coding.system}|${String(coding.code)}` : String(coding.code);
}

function notInValueSet(values: readonly string[], allowed: AllowedCodes): string {
  const quoted = values.map((value) => `"${value}"`).join(', ');
  return values.length === 1
    ? `Value ${quoted} is not in the required value set ${allowed.valueSetUrl}`
    : `None of the values ${quoted} is in the required value set ${allowed.valueSetUrl}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
