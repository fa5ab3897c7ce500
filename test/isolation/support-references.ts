// The resources that required references of the fixtures point to: one of each type, with a fixed
// id, belonging to no patient. A reference that may only name a Patient is written as a display.
import type { Reference } from '@medplum/fhirtypes';

/**
 * Support types in creation order: each one's own required references point only at types before
 * it (Schedule.actor → Practitioner, Coverage.payor → Organization), so creating them in this order
 * passes Kiln's reference check. The order is also the preference among a reference's targets.
 */
export const SUPPORT_TYPES: readonly string[] = [
  'Organization',
  'Practitioner',
  'Location',
  'Device',
  'Group',
  'Medication',
  'Substance',
  'EvidenceVariable',
  'ResearchElementDefinition',
  'ResearchStudy',
  'PaymentReconciliation',
  'Subscription',
  'TestScript',
  'Schedule',
  'Appointment',
  'Coverage',
  'CoverageEligibilityRequest',
  'Immunization',
];

export function supportId(type: string): string {
  return `isolation-support-${type}`;
}

/**
 * Stands in for a patient where an element must name one but the instance is to be tied to its
 * patient only through the link under test (or to none): valid R4 (ref-1 constrains only
 * `reference`), and it points at no resource, so no patient compartment holds it through this element.
 */
export const UNNAMED_PATIENT: Reference = { display: 'a patient this fixture does not name' };

/**
 * A reference for a required element allowing `targets` (resource type names; `Resource` means any):
 * the first support type allowed, else the unnamed patient.
 */
export function supportReference(targets: readonly string[], path: string): Reference {
  const any = targets.length === 0 || targets.includes('Resource');
  const type = SUPPORT_TYPES.find((candidate) => any || targets.includes(candidate));
  if (type) return { reference: `${type}/${supportId(type)}` };
  if (targets.includes('Patient')) return { ...UNNAMED_PATIENT };
  throw new Error(`No support resource for ${path}, which may point to ${targets.join(', ')}`);
}
