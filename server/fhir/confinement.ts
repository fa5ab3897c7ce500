// Patient confinement (server/README.md, "Patient confinement"; SMART App Launch 2 §patient-level
// scopes): a caller confined to one patient (a token with patient/ scopes, or a patient user's
// token) reaches a resource only when Kiln can show it belongs to that patient, or when its type is
// shared reference data that belongs to no patient. Deny by default: a type on neither side stays
// out of reach, whatever scopes the token holds.
import { canBelongToPatient } from '../../resources/patient-compartment.js';
import type { Condition } from '../store/search/condition.js';

/**
 * Reference data a patient's app may read although no patient owns it: who and where care is
 * given, what medicines are, and the conformance and terminology resources every app needs to
 * understand the rest. Read only: a confined caller never writes them.
 */
export const SHARED_REFERENCE_TYPES: readonly string[] = [
  // directory
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'HealthcareService',
  'Endpoint',
  // medicines
  'Medication',
  'Substance',
  // forms a patient fills in
  'Questionnaire',
  // conformance
  'CapabilityStatement',
  'StructureDefinition',
  'SearchParameter',
  'OperationDefinition',
  'CompartmentDefinition',
  'ImplementationGuide',
  // terminology
  'CodeSystem',
  'ValueSet',
  'ConceptMap',
  'NamingSystem',
];

const SHARED = new Set(SHARED_REFERENCE_TYPES);

export function isSharedReferenceType(type: string): boolean {
  return SHARED.has(type);
}

/** Whether a version of `type` that belongs to `patientCompartment` is within reach of `patient`. */
export function reaches(patient: string, type: string, patientCompartment: readonly string[]): boolean {
  return SHARED.has(type) || patientCompartment.includes(patient);
}

/** Whether `patient` could reach any resource of `type` at all. */
export function reachableType(patient: string | undefined, type: string): boolean {
  return patient === undefined || SHARED.has(type) || canBelongToPatient(type);
}

/** The condition that keeps a query of `type` within reach of `patient`; undefined for shared types. */
export function reachCondition(patient: string, type: string): Condition | undefined {
  if (SHARED.has(type)) return undefined;
  if (!canBelongToPatient(type)) return { kind: 'none' };
  return { kind: 'overlap', column: { row: 'patient_compartment' }, keys: [patient] };
}

/**
 * `condition` with `restrict(type)` added wherever it looks into another table: chained
 * parameters, `_has` and `_list`. A confined caller's search must not answer questions about
 * resources it may not read, not even yes or no.
 */
export function restrictNested(condition: Condition, restrict: (type: string) => Condition | undefined): Condition {
  const inner = (where: Condition, type: string): Condition => {
    const nested = restrictNested(where, restrict);
    const extra = restrict(type);
    return extra ? { kind: 'and', conditions: [nested, extra] } : nested;
  };
  switch (condition.kind) {
    case 'and':
    case 'or':
      return { ...condition, conditions: condition.conditions.map((c) => restrictNested(c, restrict)) };
    case 'not':
      return { ...condition, condition: restrictNested(condition.condition, restrict) };
    case 'references':
    case 'referenced-by':
      return { ...condition, where: inner(condition.where, condition.resourceType) };
    case 'listed-in': {
      const where = restrict('List');
      return where ? { ...condition, where } : condition;
    }
    default:
      return condition;
  }
}
