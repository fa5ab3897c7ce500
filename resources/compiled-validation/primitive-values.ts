// Checks of primitive values (FHIR R4 §2.24 datatypes: JSON type, format, range) and of nulls,
// as the R4 validator that is the compiled validator's oracle makes them, message for message.
import { createStructureIssue, fhirTypeToJsType, validationRegexes, type TypedValue } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/** FHIR R4 strings are at most 1 MB (datatypes.html#string). */
const MAX_STRING_LENGTH = 1024 * 1024;

const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

function stringIssues(text: string, type: string, path: string, issues: OperationOutcomeIssue[]): void {
  if (!text.trim()) {
    issues.push(createStructureIssue(path, 'String must contain non-whitespace content'));
    return;
  }
  if (text.length > MAX_STRING_LENGTH) {
    issues.push(createStructureIssue(path, 'String cannot be larger than 1 MB'));
    return;
  }
  const format = validationRegexes[type];
  if (format && !format.exec(text)) issues.push(createStructureIssue(path, `Invalid ${type} format`));
}

function numberIssues(n: number, type: string, path: string, issues: OperationOutcomeIssue[]): void {
  if (Number.isNaN(n) || !Number.isFinite(n)) issues.push(createStructureIssue(path, 'Invalid numeric value'));
  else if (INTEGER_TYPES.has(type) && !Number.isInteger(n)) issues.push(createStructureIssue(path, 'Expected number to be an integer'));
  else if (type === 'positiveInt' && n <= 0) issues.push(createStructureIssue(path, 'Expected number to be positive'));
  else if (type === 'unsignedInt' && n < 0) issues.push(createStructureIssue(path, 'Expected number to be non-negative'));
}

/**
 * Checks a primitive value and returns the extension part it carries (the `_name` partner merged
 * into it), which the caller validates as an Element at the same path; undefined when it has none.
 */
export function primitiveIssues(typed: TypedValue, path: string, issues: OperationOutcomeIssue[]): Record<string, unknown> | undefined {
  let primitive: unknown = typed.value;
  let extension: Record<string, unknown> | undefined;
  if (typeof typed.value === 'object' && typed.value) {
    // A value merged with its `_name` partner: a String, Number or Boolean object with extra keys,
    // or a plain object when there is only the extension.
    primitive = (typed.value as object).valueOf();
    if (primitive === typed.value) return typed.value as Record<string, unknown>;
    const own = new Set(Object.keys(primitive as object));
    const entries = Object.entries(typed.value).filter(([key]) => !own.has(key));
    extension = entries.length ? Object.fromEntries(entries) : undefined;
  }
  const type = typed.type;
  if (!(type in fhirTypeToJsType)) {
    issues.push(createStructureIssue(path, `Invalid JSON type: ${type} is not a valid FHIR type`));
    return undefined;
  }
  const expected = fhirTypeToJsType[type as keyof typeof fhirTypeToJsType];
  if (typeof primitive !== expected) {
    if (primitive !== null) issues.push(createStructureIssue(path, `Invalid JSON type: expected ${expected}, but got ${typeof primitive}`));
    // A value of the wrong JSON type is not looked into further, extension included.
    return undefined;
  }
  if (expected === 'string') stringIssues(primitive as string, type, path, issues);
  else if (expected === 'number') numberIssues(primitive as number, type, path, issues);
  return extension;
}

/** Nulls where JSON allows none: anywhere but a gap in an array of primitives whose `_` partner fills it. */
export function nullIssues(object: Record<string, unknown>, path: string, issues: OperationOutcomeIssue[]): void {
  for (const [key, value] of Object.entries(object)) {
    const at = `${path}.${key}`;
    if (value === null) {
      issues.push(createStructureIssue(at, 'Invalid null value'));
    } else if (Array.isArray(value)) {
      const partner = object[key.startsWith('_') ? key.slice(1) : `_${key}`] as unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        if (value[i] === undefined) issues.push(createStructureIssue(`${at}[${i}]`, 'Invalid undefined value'));
        else if (value[i] === null && !partner?.[i]) issues.push(createStructureIssue(`${at}[${i}]`, 'Invalid null value'));
        else if (value[i]) nullIssues(value[i] as Record<string, unknown>, `${at}[${i}]`, issues);
      }
    } else if (typeof value === 'object') {
      nullIssues(value as Record<string, unknown>, at, issues);
    }
  }
}
