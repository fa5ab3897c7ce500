// FHIR R4 CapabilityStatement (hl7.org/fhir/R4/capabilitystatement.html), built from the resource
// types, interactions and indexed parameters Kiln actually serves; never a hand-kept list.
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { FHIR_VERSION, resourceTypes } from '../resources/definitions.js';
import { CONDITIONAL, SYSTEM_INTERACTIONS, TYPE_INTERACTIONS } from '../server/fhir/supported-interactions.js';

export interface CapabilityOptions {
  baseUrl: string;
  checkReferences: boolean;
  software?: { name: string; version: string };
}

export function capabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const software = options.software ?? { name: 'Kiln', version: process.env.npm_package_version ?? '0.1.0' };
  const referencePolicy: CapabilityStatementRestResource['referencePolicy'] = ['literal', 'local'];
  if (options.checkReferences) referencePolicy.push('enforced');
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'Kiln',
    kind: 'instance',
    software,
    implementation: { description: 'Kiln FHIR R4 server', url: options.baseUrl },
    fhirVersion: FHIR_VERSION,
    format: ['json', 'application/fhir+json', 'application/json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        resource: resourceTypes().map((type) => ({
          type: type as CapabilityStatementRestResource['type'],
          profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
          interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          ...CONDITIONAL,
          referencePolicy,
        })),
        interaction: SYSTEM_INTERACTIONS.map((code) => ({ code })),
      },
    ],
  };
}
