// FHIR R4 terminology for search (hl7.org/fhir/R4/search.html#token): value set membership for
// :in / :not-in and subsumption for :below / :above, from the code systems and value sets of
// the R4 definitions. Loaded on first use: most servers never need it.
import type { CodeSystem } from '@medplum/fhirtypes';
import { unversionedUrl } from './canonical-url.js';
import { CodeSystemIndex } from './code-system-index.js';
import { readTerminologyResources } from './required-binding-definitions.js';
import { ValueSetExpander, type CodesBySystem } from './value-set-expansion.js';

interface Terminology {
  expander: ValueSetExpander;
  codeSystems: Map<string, CodeSystem>;
  indexes: Map<string, CodeSystemIndex>;
}

let terminology: Terminology | undefined;

function load(): Terminology {
  if (!terminology) {
    const { valueSets, codeSystems } = readTerminologyResources();
    terminology = { expander: new ValueSetExpander(valueSets, codeSystems), codeSystems, indexes: new Map() };
  }
  return terminology;
}

/** Every code of a value set by system, or undefined when it cannot be listed completely here. */
export function valueSetCodes(canonical: string): CodesBySystem | undefined {
  const result = load().expander.expand(canonical);
  return result.ok ? result.codes : undefined;
}

function codeSystemIndex(system: string): CodeSystemIndex | undefined {
  const { codeSystems, indexes } = load();
  const url = unversionedUrl(system);
  if (!indexes.has(url)) {
    const codeSystem = codeSystems.get(url);
    if (codeSystem) indexes.set(url, new CodeSystemIndex(codeSystem));
  }
  const index = indexes.get(url);
  // Only a complete code system whose hierarchy means is-a can answer subsumption.
  return index?.isEnumerable && index.hierarchyIsSubsumption ? index : undefined;
}

/** `code` and the codes it subsumes; undefined when the code system's hierarchy is not known here. */
export function codesBelow(system: string, code: string): Set<string> | undefined {
  const index = codeSystemIndex(system);
  return index?.has(code) ? index.selfAndDescendants(code) : undefined;
}

/** `code` and the codes that subsume it; undefined when the code system's hierarchy is not known here. */
export function codesAbove(system: string, code: string): Set<string> | undefined {
  const index = codeSystemIndex(system);
  return index?.has(code) ? index.selfAndAncestors(code) : undefined;
}
