// FHIR R4 §4.9 ValueSet (hl7.org/fhir/R4/valueset.html#compose): expanding compose.include / exclude
// into the set of system+code pairs a required binding allows.
import type { CodeSystem, ValueSet, ValueSetComposeInclude, ValueSetComposeIncludeFilter } from '@medplum/fhirtypes';
import { pinnedVersion, unversionedUrl } from './canonical-url.js';
import { CodeSystemIndex } from './code-system-index.js';
import { isFromAnotherFhirRelease } from './fhir-release.js';

/** The members of an expanded value set: codes grouped by code system URL. */
export type CodesBySystem = Map<string, Set<string>>;

/** Why a value set could not be expanded, for diagnosing a binding that is not enforced. */
export type UnexpandableReason =
  | 'unknown-value-set'
  | 'unknown-code-system'
  | 'code-system-not-enumerable'
  | 'unsupported-filter'
  | 'recursive-import'
  | 'version-mismatch'
  | 'not-r4-content';

export type ExpansionResult = { ok: true; codes: CodesBySystem } | { ok: false; reason: UnexpandableReason };

/**
 * Expands value sets from the CodeSystems and ValueSets of the bundled R4 definitions.
 *
 * An expansion either lists every member or fails: a partial list would make a valid code look
 * invalid. Failure comes from a system the definitions only name (BCP-47, MIME types, UCUM,
 * ISO 4217, LOINC answer lists...), a code system whose content is not complete, or a filter
 * whose meaning is not computable here. Excludes are the exception: an exclude that cannot be
 * computed is dropped, which can only let more codes through, never reject a valid one.
 */
export class ValueSetExpander {
  private readonly codeSystemIndexes = new Map<string, CodeSystemIndex>();
  private readonly expansions = new Map<string, ExpansionResult>();
  private readonly expanding = new Set<string>();

  constructor(
    private readonly valueSets: ReadonlyMap<string, ValueSet>,
    private readonly codeSystems: ReadonlyMap<string, CodeSystem>,
  ) {}

  expand(canonical: string): ExpansionResult {
    const url = unversionedUrl(canonical);
    const version = pinnedVersion(canonical);
    const held = this.valueSets.get(url)?.version;
    // Only one version of each value set is at hand; a reference to another cannot be judged with it.
    if (version !== undefined && held !== undefined && held !== version) {
      return { ok: false, reason: 'version-mismatch' };
    }
    const known = this.expansions.get(url);
    if (known) return known;
    if (this.expanding.has(url)) return { ok: false, reason: 'recursive-import' };
    this.expanding.add(url);
    const result = this.expandUncached(url);
    this.expanding.delete(url);
    this.expansions.set(url, result);
    return result;
  }

  private expandUncached(url: string): ExpansionResult {
    const valueSet = this.valueSets.get(url);
    if (!valueSet) return this.expandImplicitCodeSystemValueSet(url);
    if (isFromAnotherFhirRelease(valueSet)) return { ok: false, reason: 'not-r4-content' };
    const includes = valueSet.compose?.include ?? [];
    if (includes.length === 0) return { ok: false, reason: 'unknown-value-set' };
    const members: CodesBySystem = new Map();
    for (const include of includes) {
      const included = this.expandInclude(include);
      if (!included.ok) return included;
      addAll(members, included.codes);
    }
    for (const exclude of valueSet.compose?.exclude ?? []) {
      const excluded = this.expandInclude(exclude);
      if (excluded.ok) removeAll(members, excluded.codes);
    }
    return { ok: true, codes: members };
  }

  /** A CodeSystem's `valueSet` names the value set of all its codes, which need not exist as a resource. */
  private expandImplicitCodeSystemValueSet(url: string): ExpansionResult {
    for (const codeSystem of this.codeSystems.values()) {
      if (codeSystem.valueSet && unversionedUrl(codeSystem.valueSet) === url && codeSystem.url) {
        return this.expandInclude({ system: codeSystem.url });
      }
    }
    return { ok: false, reason: 'unknown-value-set' };
  }

  /** One include (or exclude): the intersection of its system part and every imported value set. */
  private expandInclude(include: ValueSetComposeInclude): ExpansionResult {
    let selected: CodesBySystem | undefined;
    if (include.system) {
      const system = unversionedUrl(include.system);
      const codes = this.selectFromSystem(system, include);
      if (!codes.ok) return codes;
      selected = codes.codes;
    }
    for (const imported of include.valueSet ?? []) {
      const expansion = this.expand(imported);
      if (!expansion.ok) return expansion;
      selected = selected ? intersect(selected, expansion.codes) : copy(expansion.codes);
    }
    return selected ? { ok: true, codes: selected } : { ok: false, reason: 'unknown-value-set' };
  }

  private selectFromSystem(system: string, include: ValueSetComposeInclude): ExpansionResult {
    if (include.concept && include.concept.length > 0) {
      // An enumerated list is complete in itself, even for a system the definitions only name.
      return { ok: true, codes: new Map([[system, new Set(include.concept.map((concept) => concept.code))]]) };
    }
    const codeSystem = this.codeSystemIndex(system);
    if (!codeSystem) return { ok: false, reason: 'unknown-code-system' };
    if (include.version !== undefined && include.version !== codeSystem.version) {
      return { ok: false, reason: 'version-mismatch' };
    }
    if (codeSystem.isFromAnotherFhirRelease) return { ok: false, reason: 'not-r4-content' };
    if (!codeSystem.isEnumerable) return { ok: false, reason: 'code-system-not-enumerable' };
    let codes: Set<string> = new Set(codeSystem.codes);
    for (const filter of include.filter ?? []) {
      const matching = applyFilter(codeSystem, filter);
      if (!matching) return { ok: false, reason: 'unsupported-filter' };
      codes = new Set([...codes].filter((code) => matching.has(code)));
    }
    return { ok: true, codes: new Map([[system, codes]]) };
  }

  private codeSystemIndex(system: string): CodeSystemIndex | undefined {
    let index = this.codeSystemIndexes.get(system);
    if (!index) {
      const codeSystem = this.codeSystems.get(system);
      if (!codeSystem) return undefined;
      index = new CodeSystemIndex(codeSystem);
      this.codeSystemIndexes.set(system, index);
    }
    return index;
  }
}

/**
 * The codes a filter selects (R4 ValueSet.compose.include.filter.op), or undefined when its meaning is not
 * computable from the definitions. Covers every property/operator pair the R4 value sets use.
 */
function applyFilter(codeSystem: CodeSystemIndex, filter: ValueSetComposeIncludeFilter): Set<string> | undefined {
  const { property, op, value } = filter;
  if (typeof value !== 'string') return undefined;
  const isConceptProperty = property === 'concept' || property === 'code';
  switch (op) {
    case 'is-a':
      return isConceptProperty && codeSystem.hierarchyIsSubsumption ? codeSystem.selfAndDescendants(value) : undefined;
    case 'descendent-of': {
      if (!isConceptProperty || !codeSystem.hierarchyIsSubsumption) return undefined;
      const descendants = codeSystem.selfAndDescendants(value);
      descendants.delete(value);
      return descendants;
    }
    case 'is-not-a': {
      if (!isConceptProperty || !codeSystem.hierarchyIsSubsumption) return undefined;
      const subsumed = codeSystem.selfAndDescendants(value);
      return new Set([...codeSystem.codes].filter((code) => !subsumed.has(code)));
    }
    case 'in':
    case 'not-in': {
      if (!isConceptProperty) return undefined;
      const listed = new Set(value.split(',').map((code) => code.trim()));
      return new Set([...codeSystem.codes].filter((code) => listed.has(code) === (op === 'in')));
    }
    case '=':
      if (isConceptProperty) return codeSystem.has(value) ? new Set([value]) : new Set();
      return codeSystem.hasProperty(property) ? codeSystem.codesWithProperty(property, value) : undefined;
    case 'regex': {
      const pattern = anchoredRegExp(value);
      if (!pattern) return undefined;
      if (isConceptProperty) return new Set([...codeSystem.codes].filter((code) => pattern.test(code)));
      return codeSystem.hasProperty(property) ? codeSystem.codesWithPropertyMatching(property, pattern) : undefined;
    }
    default:
      // `generalizes` and `exists` do not occur in the R4 value sets.
      return undefined;
  }
}

/** FHIR regex filters match the whole value. */
function anchoredRegExp(source: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch {
    return undefined;
  }
}

function addAll(target: CodesBySystem, source: CodesBySystem): void {
  for (const [system, codes] of source) {
    const existing = target.get(system);
    if (existing) for (const code of codes) existing.add(code);
    else target.set(system, new Set(codes));
  }
}

function removeAll(target: CodesBySystem, source: CodesBySystem): void {
  for (const [system, codes] of source) {
    const existing = target.get(system);
    if (existing) for (const code of codes) existing.delete(code);
  }
}

function intersect(a: CodesBySystem, b: CodesBySystem): CodesBySystem {
  const result: CodesBySystem = new Map();
  for (const [system, codes] of a) {
    const other = b.get(system);
    if (other) result.set(system, new Set([...codes].filter((code) => other.has(code))));
  }
  return result;
}

function copy(codes: CodesBySystem): CodesBySystem {
  const result: CodesBySystem = new Map();
  addAll(result, codes);
  return result;
}
