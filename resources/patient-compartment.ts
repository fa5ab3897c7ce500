// Which patients a resource belongs to: the R4 Patient CompartmentDefinition
// (hl7.org/fhir/R4/compartmentdefinition-patient.html), plus two links that definition leaves out
// and that Kiln follows: a Device's `patient`, a Binary's `securityContext`
// (hl7.org/fhir/R4/binary.html#security), and the patient a Subscription names in Kiln's
// subscription-patient extension (a patient's app subscribes to its own patient's data).
// Everything else belongs to no patient.
import type { Resource } from '@medplum/fhirtypes';
import { compartment } from './compartments.js';
import { column } from './search/index-values.js';
import { indexedParameters, type ParameterDefinition } from './search/parameters.js';

/** Search parameters that tie a type to patients outside the compartment definition. */
const EXTRA_LINKS: Record<string, string[]> = { Device: ['patient'] };

/** The reference parameters that put a resource of `type` in a patient's compartment. */
export function patientLinkParameters(type: string): string[] {
  return compartment('Patient')?.members.get(type) ?? EXTRA_LINKS[type] ?? [];
}

/** The extension by which a Subscription belongs to the patient it is for. */
export const SUBSCRIPTION_PATIENT_EXTENSION = 'http://kiln.dev/fhir/StructureDefinition/subscription-patient';

/** Whether resources of `type` can belong to a patient at all. */
export function canBelongToPatient(type: string): boolean {
  return type === 'Patient' || type === 'Binary' || type === 'Subscription' || patientLinkParameters(type).length > 0;
}

/** The definitions of those parameters, for computing only their values. */
export function patientLinkDefinitions(type: string): ParameterDefinition[] {
  const parameters = indexedParameters(type);
  return patientLinkParameters(type)
    .map((code) => parameters.get(code))
    .filter((definition): definition is ParameterDefinition => definition !== undefined);
}

/** Who a version belongs to: patients named directly, and a resource whose patients it shares. */
export interface PatientMembership {
  patients: string[];
  /** A Binary whose securityContext is another resource of this server belongs to that resource's patients. */
  sharesWith?: { resourceType: string; id: string };
}

const LOCAL = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** `Type/id` of a reference to this server (relative, or absolute under `baseUrl`). */
function localTarget(reference: string, baseUrl: string): { resourceType: string; id: string } | undefined {
  const local = reference.startsWith(`${baseUrl}/`) ? reference.slice(baseUrl.length + 1) : reference;
  const match = LOCAL.exec(local);
  return match ? { resourceType: match[1], id: match[2] } : undefined;
}

/**
 * The patients `resource` belongs to. `row` holds the search values of at least its link
 * parameters (a write's full row, or `indexValues(resource, patientLinkDefinitions(type))`).
 * References by identifier alone, or to another server, tie a resource to no patient: Kiln can only
 * vouch for a link it can follow.
 */
export function patientMembership(resource: Resource, row: Record<string, unknown>, baseUrl: string): PatientMembership {
  const patients = new Set<string>();
  if (resource.resourceType === 'Patient' && resource.id) patients.add(resource.id);
  for (const code of patientLinkParameters(resource.resourceType)) {
    for (const key of (row[column.main(code)] as string[] | null | undefined) ?? []) {
      const target = localTarget(key, baseUrl);
      if (target?.resourceType === 'Patient') patients.add(target.id);
    }
  }
  if (resource.resourceType === 'Subscription') {
    for (const extension of resource.extension ?? []) {
      if (extension.url !== SUBSCRIPTION_PATIENT_EXTENSION || typeof extension.valueReference?.reference !== 'string') continue;
      const target = localTarget(extension.valueReference.reference, baseUrl);
      if (target?.resourceType === 'Patient') patients.add(target.id);
    }
  }
  if (resource.resourceType === 'Binary') {
    const reference = (resource as { securityContext?: { reference?: unknown } }).securityContext?.reference;
    const target = typeof reference === 'string' ? localTarget(reference, baseUrl) : undefined;
    if (target?.resourceType === 'Patient') patients.add(target.id);
    else if (target) return { patients: [...patients], sharesWith: target };
  }
  return { patients: [...patients].sort() };
}
