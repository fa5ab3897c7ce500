// Which element ties a resource of each type to a patient: the Patient compartment's parameters
// (hl7.org/fhir/R4/compartmentdefinition-patient.html), plus Device.patient and Binary.securityContext.
import { compartment } from '../../resources/compartments.js';
import { loadDefinitions, resourceTypes } from '../../resources/definitions.js';
import { indexedParameters } from '../../resources/search/parameters.js';

/** How a resource of some type is tied to a patient. */
export interface PatientLink {
  /** The search parameter code (`subject`, `performer`, `patient`), or `securityContext` for Binary. */
  parameter: string;
}

/** A type that can belong to a patient, with every way it can. */
export interface LinkedType {
  type: string;
  links: PatientLink[];
}

/** Binary has no search parameter for it: access to it follows the resource its securityContext names. */
const BINARY_LINK: PatientLink = { parameter: 'securityContext' };

/**
 * The links of `type`. Patient has none: a Patient is its own. (The compartment also lists its
 * `link` parameter, Patient.link.other, through which a Patient joins another patient's
 * compartment; no fixture makes such a Patient.) Device is outside the R4 Patient compartment but
 * its `patient` element names whose device it is.
 */
export function patientLinks(type: string): PatientLink[] {
  // The compartment's parameters are looked up in the search parameter registry the definitions fill.
  loadDefinitions();
  if (type === 'Patient') return [];
  if (type === 'Binary') return [BINARY_LINK];
  if (type === 'Device') return [{ parameter: 'patient' }];
  return (compartment('Patient')?.members.get(type) ?? []).map((parameter) => ({ parameter }));
}

/** Every type with at least one link, alphabetically: what an isolation test loops over. */
export function linkedTypes(): LinkedType[] {
  return resourceTypes()
    .map((type) => ({ type, links: patientLinks(type) }))
    .filter((linked) => linked.links.length > 0);
}

/**
 * The element path (below the resource) that holds the link's reference, from the parameter's
 * FHIRPath: `Observation.performer` → [performer], `Appointment.participant.actor` → [participant,
 * actor], `Condition.subject.where(resolve() is Patient)` → [subject]. When the expression is a
 * union (AuditEvent.patient: agent.who | entity.what) the first member is the one used.
 */
export function linkElementPath(type: string, link: PatientLink): string[] {
  if (type === 'Binary' && link.parameter === BINARY_LINK.parameter) return ['securityContext'];
  const parameter = indexedParameters(type).get(link.parameter);
  if (!parameter || parameter.type !== 'reference') {
    throw new Error(`${type} has no reference search parameter "${link.parameter}"`);
  }
  const first = parameter.expression.split('|')[0].trim();
  // The Patient restriction is met by the reference itself, which names a Patient.
  const path = first.replace(/\.where\(\(?resolve\(\) is Patient\)?\)$/, '').replace(/^\(+|\)+$/g, '');
  if (!/^[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)+$/.test(path) || !path.startsWith(`${type}.`)) {
    throw new Error(`The expression of ${type}.${link.parameter} is not a plain element path: ${parameter.expression}`);
  }
  return path.split('.').slice(1);
}
