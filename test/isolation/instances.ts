// Valid resource instances of every R4 type Kiln serves, each tied to a given patient through one
// chosen link (or to none), for tests that check one patient never sees another's data.
import type { Reference, Resource } from '@medplum/fhirtypes';
import { loadDefinitions } from '../../resources/definitions.js';
import { linkElementPath, patientLinks, type PatientLink } from './patient-links.js';
import { isRepeating, requiredElements, schemaOf, type Json } from './required-elements.js';
import { SUPPORT_TYPES, supportId } from './support-references.js';

export { linkedTypes, patientLinks, type LinkedType, type PatientLink } from './patient-links.js';
export { SUPPORT_TYPES, supportId } from './support-references.js';

/** The word in the narrative of every support resource; a test's own marker never matches it. */
export const SUPPORT_MARKER = 'isolationsupport';

/**
 * The resources that the instances' required references point to, in the order they must be
 * created (each refers only to those before it), each with its fixed id and belonging to no patient.
 */
export function supportResources(): Resource[] {
  return SUPPORT_TYPES.map((type) => ({ ...instanceFor(type, undefined, undefined, SUPPORT_MARKER), id: supportId(type) }));
}

/**
 * A valid instance of `type` carrying `marker` (in the narrative of a DomainResource, the data of a
 * Binary, the identifier of a Bundle, a parameter of Parameters).
 *
 * With an owner, the element at `link`'s path is `Patient/<owner.patient>`, and that is the only
 * reference to a patient in it: other required elements that may only name a Patient hold a
 * display-only Reference, so the instance belongs to the patient through the link under test
 * alone. For Patient itself (which has no links) the owner's own Patient is returned, with its id.
 *
 * Without an owner the instance belongs to no patient; every type can be built so, compartment
 * types included, because a required patient reference is then display-only too.
 */
export function instanceFor(type: string, owner: { patient: string } | undefined, link: PatientLink | undefined, marker: string): Resource {
  loadDefinitions();
  if (link && !patientLinks(type).some((known) => known.parameter === link.parameter)) {
    throw new Error(`${type} has no patient link "${link.parameter}"`);
  }
  if (owner && !link && type !== 'Patient') throw new Error(`A ${type} for a patient needs one of its links`);
  if (!owner && link) throw new Error(`A ${type} linked by "${link.parameter}" needs the patient it belongs to`);

  const instance = contentFor(type, marker);
  if (type === 'Patient' && owner) instance.id = owner.patient;
  if (owner && link) setReference(instance, type, linkElementPath(type, link), { reference: `Patient/${owner.patient}` });
  return instance as unknown as Resource;
}

function contentFor(type: string, marker: string): Json {
  switch (type) {
    case 'Binary':
      return { resourceType: type, contentType: 'text/plain', data: Buffer.from(`Isolation fixture ${marker}`).toString('base64') };
    case 'Bundle':
      return { resourceType: type, type: 'collection', identifier: { system: 'http://example.org/isolation', value: marker } };
    case 'Parameters':
      return { resourceType: type, parameter: [{ name: 'marker', valueString: marker }] };
    default:
      return { resourceType: type, text: narrative(marker), ...requiredElements(type) };
  }
}

function narrative(marker: string): Json {
  return { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>Isolation fixture ${marker}</p></div>` };
}

/**
 * Puts `reference` at `path` below the resource, creating the backbone elements on the way with
 * their own required elements (Appointment.participant needs a status beside its actor).
 */
function setReference(instance: Json, type: string, path: string[], reference: Reference): void {
  let node = instance;
  let nodeType = type;
  path.forEach((name, i) => {
    const element = schemaOf(nodeType).elements[name];
    if (!element) throw new Error(`${nodeType} has no element ${name}`);
    if (i === path.length - 1) {
      if (!element.type.some((t) => t.code === 'Reference')) throw new Error(`${element.path} is not a Reference`);
      node[name] = isRepeating(element) ? [reference] : reference;
      return;
    }
    const childType = element.type[0].code;
    const existing = node[name];
    let child = (Array.isArray(existing) ? existing[0] : existing) as Json | undefined;
    if (!child) {
      child = requiredElements(childType);
      node[name] = isRepeating(element) ? [child] : child;
    }
    node = child;
    nodeType = childType;
  });
}
