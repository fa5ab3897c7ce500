// FHIR R4 §2.4 Validating resources (hl7.org/fhir/R4/validation.html): structure, cardinality,
// datatypes and invariants from the StructureDefinitions (compiled into per-type plans, with
// @medplum/core's validator as their oracle), plus the checks that validator leaves out.
// Every problem is reported in one answer: structural errors and binding errors together.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { structuralIssues } from './compiled-validation/structure-validator.js';
import { sharingDefinitionFiles } from './definition-files.js';
import { loadDefinitions } from './definitions.js';
import { MAX_JSON_DEPTH, valueDepth } from './json-limits.js';
import { shapeIssues } from './json-shape.js';
import { checkRequiredBindings, loadRequiredBindings } from './required-bindings.js';
import { unicodeIssues } from './unicode-text.js';

/** FHIR R4 §2.24.0.1 id: 1 to 64 of [A-Za-z0-9\-\.]. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export function loadValidation(): void {
  sharingDefinitionFiles(() => {
    loadDefinitions();
    loadRequiredBindings();
  });
}

const isError = (issue: OperationOutcomeIssue) => issue.severity === 'error' || issue.severity === 'fatal';

/**
 * Whether `path` is the element at `broken` or lies inside it (`Patient.name` holds
 * `Patient.name[0].family`; `Observation.value[x]` holds `Observation.valueQuantity.unit`). The
 * resource itself holds nothing here: an error about the whole resource breaks no one element.
 */
function within(path: string, broken: string): boolean {
  if (!/[.[]/.test(broken)) return false;
  if (path === broken || path.startsWith(`${broken}.`) || path.startsWith(`${broken}[`)) return true;
  const choice = broken.indexOf('[x]');
  if (choice < 0 || !path.startsWith(broken.slice(0, choice))) return false;
  const typeName = /^[A-Z][A-Za-z]*/.exec(path.slice(choice));
  return typeName !== null && within(broken.slice(0, choice) + path.slice(choice + typeName[0].length), broken.slice(0, choice) + broken.slice(choice + 3));
}

/**
 * Every error in `resource`; an empty list means it may be stored. `structural` is the compiled
 * validator; its oracle (interpretedStructuralIssues) can take its place for comparisons.
 */
export function validationErrors(resource: Resource, structural = structuralIssues): OperationOutcomeIssue[] {
  const type = String(resource.resourceType);
  // Everything below walks the resource recursively: a deeper one is refused before any walk.
  if (valueDepth(resource) > MAX_JSON_DEPTH) {
    return [{ severity: 'error', code: 'structure', details: { text: `The resource is nested more than ${MAX_JSON_DEPTH} levels deep; Kiln reads at most ${MAX_JSON_DEPTH} levels` }, expression: [type] }];
  }
  const text = unicodeIssues(resource, type);
  const shape = shapeIssues(resource as unknown as Record<string, unknown>);
  // An element reported here is reported once: not again by the checks below, which would only
  // describe the same mistake less precisely.
  const broken = [...text, ...shape].flatMap((i) => i.expression ?? []);
  const unreported = (issue: OperationOutcomeIssue) => !(issue.expression ?? []).some((path) => broken.some((b) => within(path, b)));
  const found: OperationOutcomeIssue[] = [];
  try {
    found.push(...structural(resource));
  } catch (error) {
    // The validator gives up on some malformed shapes by throwing; those are reported above.
    if (!shape.length) found.push({ severity: 'error', code: 'structure', details: { text: (error as Error).message }, expression: [type] });
  }
  if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
    found.push({
      severity: 'error',
      code: 'value',
      details: { text: `Invalid id "${String(resource.id)}": an id is 1 to 64 letters, digits, '-' and '.'` },
      expression: [`${type}.id`],
    });
  }
  const errors = [...text, ...shape, ...found.filter(unreported)].filter(isError);
  // Bindings of elements that are themselves broken are not judged; every other one is.
  const structurallyBroken = errors.flatMap((i) => i.expression ?? []);
  const bindings = checkRequiredBindings(resource).filter((issue) => !(issue.expression ?? []).some((path) => structurallyBroken.some((b) => within(path, b))));
  return [...errors, ...bindings.filter(isError)];
}
