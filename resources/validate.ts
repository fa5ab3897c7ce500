// FHIR R4 §2.4 Validating resources (hl7.org/fhir/R4/validation.html): structure, cardinality,
// datatypes and invariants from the StructureDefinitions, plus the checks that validator leaves out.
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from './definitions.js';
import { checkRequiredBindings, loadRequiredBindings } from './required-bindings.js';

/** FHIR R4 §2.24.0.1 id: 1 to 64 of [A-Za-z0-9\-\.]. */
export const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export function loadValidation(): void {
  loadDefinitions();
  loadRequiredBindings();
}

/** Every error in `resource`; an empty list means it may be stored. */
export function validationErrors(resource: Resource): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  try {
    issues.push(...validateResource(resource));
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    issues.push(...(error.outcome.issue ?? []));
  }
  if (resource.id !== undefined && (typeof resource.id !== 'string' || !ID_PATTERN.test(resource.id))) {
    issues.push({
      severity: 'error',
      code: 'value',
      details: { text: `Invalid id "${String(resource.id)}": an id is 1 to 64 letters, digits, '-' and '.'` },
      expression: [`${resource.resourceType}.id`],
    });
  }
  // Bindings are only meaningful on a structurally valid resource.
  if (!issues.some((i) => i.severity === 'error' || i.severity === 'fatal')) {
    issues.push(...checkRequiredBindings(resource));
  }
  return issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
}
