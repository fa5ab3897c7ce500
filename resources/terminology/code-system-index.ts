// FHIR R4 §4.8 CodeSystem (hl7.org/fhir/R4/codesystem.html): the codes, hierarchy and properties
// a value set filter can select from.
import type { CodeSystem, CodeSystemConcept } from '@medplum/fhirtypes';
import { isFromAnotherFhirRelease } from './fhir-release.js';

/**
 * The concepts of one CodeSystem, indexed for value set expansion. Subsumption comes from three
 * places in the R4 definitions: nested `concept` arrays, and the `parent` / `child` concept
 * properties that the v3 code systems use for their poly-hierarchy.
 */
export class CodeSystemIndex {
  readonly url: string;
  readonly version: string | undefined;
  readonly isFromAnotherFhirRelease: boolean;
  /** All codes, in definition order. */
  readonly codes: ReadonlySet<string>;
  /**
   * True when `codes` is the whole code system and codes compare exactly: only then may a code
   * missing from it be called wrong. `fragment`, `example`, `not-present` and `supplement`
   * content, or a case-insensitive system, cannot prove that.
   */
  readonly isEnumerable: boolean;
  /** Whether nesting means subsumption, so that `is-a` style filters may follow it. */
  readonly hierarchyIsSubsumption: boolean;
  private readonly childrenByCode = new Map<string, Set<string>>();
  private readonly propertyValuesByCode = new Map<string, Map<string, string[]>>();

  constructor(codeSystem: CodeSystem) {
    this.url = codeSystem.url ?? '';
    this.version = codeSystem.version;
    this.isFromAnotherFhirRelease = isFromAnotherFhirRelease(codeSystem);
    this.isEnumerable = codeSystem.content === 'complete' && codeSystem.caseSensitive !== false;
    this.hierarchyIsSubsumption = codeSystem.hierarchyMeaning === undefined || codeSystem.hierarchyMeaning === 'is-a';
    const codes = new Set<string>();
    this.indexConcepts(codeSystem.concept ?? [], undefined, codes);
    this.codes = codes;
  }

  has(code: string): boolean {
    return this.codes.has(code);
  }

  /** `code` and everything it subsumes (the `is-a` filter); empty if `code` is unknown. */
  selfAndDescendants(code: string): Set<string> {
    const found = new Set<string>();
    if (!this.has(code)) return found;
    const pending = [code];
    while (pending.length > 0) {
      const next = pending.pop() as string;
      if (found.has(next) || !this.has(next)) continue;
      found.add(next);
      for (const child of this.childrenByCode.get(next) ?? []) pending.push(child);
    }
    return found;
  }

  /** `code` and everything that subsumes it; empty if `code` is unknown. */
  selfAndAncestors(code: string): Set<string> {
    const found = new Set<string>();
    if (!this.has(code)) return found;
    const parents = new Map<string, string[]>();
    for (const [parent, children] of this.childrenByCode) {
      for (const child of children) parents.set(child, [...(parents.get(child) ?? []), parent]);
    }
    const pending = [code];
    while (pending.length > 0) {
      const next = pending.pop() as string;
      if (found.has(next)) continue;
      found.add(next);
      pending.push(...(parents.get(next) ?? []));
    }
    return found;
  }

  /** Codes having `property` with a value equal to `value` (compared as strings). */
  codesWithProperty(property: string, value: string): Set<string> {
    const found = new Set<string>();
    for (const [code, properties] of this.propertyValuesByCode) {
      if (properties.get(property)?.includes(value)) found.add(code);
    }
    return found;
  }

  /** Codes having `property` with a value matching `pattern`. */
  codesWithPropertyMatching(property: string, pattern: RegExp): Set<string> {
    const found = new Set<string>();
    for (const [code, properties] of this.propertyValuesByCode) {
      if (properties.get(property)?.some((value) => pattern.test(value))) found.add(code);
    }
    return found;
  }

  /** Whether any concept carries `property`; a filter on a property nobody has cannot be interpreted. */
  hasProperty(property: string): boolean {
    for (const properties of this.propertyValuesByCode.values()) if (properties.has(property)) return true;
    return false;
  }

  private indexConcepts(concepts: readonly CodeSystemConcept[], parent: string | undefined, codes: Set<string>): void {
    for (const concept of concepts) {
      const code = concept.code;
      if (typeof code !== 'string') continue;
      codes.add(code);
      if (parent !== undefined) this.addChild(parent, code);
      for (const property of concept.property ?? []) {
        const value = propertyValueAsString(property);
        if (value === undefined) continue;
        this.addPropertyValue(code, property.code, value);
        if (property.code === 'child') this.addChild(code, value);
        else if (property.code === 'parent') this.addChild(value, code);
      }
      this.indexConcepts(concept.concept ?? [], code, codes);
    }
  }

  private addChild(parent: string, child: string): void {
    let children = this.childrenByCode.get(parent);
    if (!children) {
      children = new Set();
      this.childrenByCode.set(parent, children);
    }
    children.add(child);
  }

  private addPropertyValue(code: string, property: string, value: string): void {
    let properties = this.propertyValuesByCode.get(code);
    if (!properties) {
      properties = new Map();
      this.propertyValuesByCode.set(code, properties);
    }
    const values = properties.get(property);
    if (values) values.push(value);
    else properties.set(property, [value]);
  }
}

type ConceptProperty = NonNullable<CodeSystemConcept['property']>[number];

function propertyValueAsString(property: ConceptProperty): string | undefined {
  const value =
    property.valueCode ??
    property.valueString ??
    property.valueBoolean ??
    property.valueInteger ??
    property.valueDecimal ??
    property.valueDateTime ??
    property.valueCoding?.code;
  return value === undefined ? undefined : String(value);
}
