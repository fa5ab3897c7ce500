// FHIR R4 §3.1.1.5.5 token search (hl7.org/fhir/R4/search.html#token): the strings stored in a
// token column so that every token form (`code`, `system|code`, `|code`, `system|`) is one
// equality test against a GIN-indexed text[].
import type { TypedValue } from '@medplum/core';

/** Key a token search value is looked up by; the stored column holds the same keys. */
export const tokenKey = {
  /** `system|code` */
  systemAndCode: (system: string, code: string) => `${system}|${code}`,
  /** `code`, any system */
  code: (code: string) => `\u0001${code}`,
  /** `|code`, no system */
  codeWithoutSystem: (code: string) => `\u0002${code}`,
  /** `system|`, any code */
  system: (system: string) => `${system}|\u0003`,
  /** `:of-type` on an Identifier: `type system|type code|value` */
  ofType: (typeSystem: string, typeCode: string, value: string) => `\u0004${typeSystem}|${typeCode}|${value}`,
};

function keysFor(system: string | undefined, code: string | undefined, out: Set<string>): void {
  if (code !== undefined && code !== '') {
    out.add(tokenKey.code(code));
    if (system) out.add(tokenKey.systemAndCode(system, code));
    else out.add(tokenKey.codeWithoutSystem(code));
  }
  if (system) out.add(tokenKey.system(system));
}

/** Token keys for values produced by a search parameter's FHIRPath expression. */
export function tokenKeys(values: TypedValue[]): string[] {
  const out = new Set<string>();
  for (const { type, value } of values) {
    if (value === undefined || value === null) continue;
    switch (type) {
      case 'Identifier':
        keysFor(value.system, value.value, out);
        if (typeof value.value === 'string') {
          for (const coding of value.type?.coding ?? []) {
            if (coding.system && coding.code) out.add(tokenKey.ofType(coding.system, coding.code, value.value));
          }
        }
        break;
      case 'Coding':
        keysFor(value.system, value.code, out);
        break;
      case 'CodeableConcept':
        for (const coding of value.coding ?? []) keysFor(coding.system, coding.code, out);
        break;
      case 'ContactPoint':
        keysFor(undefined, value.value, out);
        break;
      default:
        if (typeof value !== 'object') keysFor(undefined, String(value), out);
    }
  }
  return [...out];
}
