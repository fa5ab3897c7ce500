// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required): which
// elements of which types carry one, read from the StructureDefinition snapshots.
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';

/** How a bound element holds its code, which decides how membership is tested. */
export type CodedValueKind = 'code' | 'Coding' | 'CodeableConcept';

/** The value set a required binding allows, ready for membership tests. */
export interface AllowedCodes {
  readonly valueSetUrl: string;
  /** Codes by system, for Coding and CodeableConcept. */
  readonly codesBySystem: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every code whatever its system, for `code` (whose system the binding implies). */
  readonly anySystem: ReadonlySet<string>;
}

/** One JSON property of a type that either is bound or leads to something bound. */
export interface ElementRule {
  /** JSON property name: `gender`, or `valueQuantity` for one type of `value[x]`. */
  readonly property: string;
  readonly binding?: { readonly kind: CodedValueKind; readonly allowed: AllowedCodes };
  /** Key of the rules that apply inside the value; `RESOURCE_BY_TYPE` for `contained` and the like. */
  readonly childKey?: string;
}

/** Rules per type name (`Patient`, `Identifier`) or backbone element path (`Patient.contact`). */
export type RuleIndex = ReadonlyMap<string, readonly ElementRule[]>;

/** Marks a `Resource`-typed element: the rules to apply are those of the value's own resourceType. */
export const RESOURCE_BY_TYPE = '(resourceType)';

/** Counts describing what the index enforces and what it had to leave out. */
export interface RequiredBindingStats {
  /** Element definitions with a required binding on a code, Coding or CodeableConcept (or string/uri) type. */
  requiredBindings: number;
  /** Those whose value set expanded, so violations are reported. */
  enforcedBindings: number;
  /** Those whose value set could not be expanded from the definitions, so nothing is rejected there. */
  skippedBindings: number;
  /** Distinct value set references (canonical with version) behind the enforced bindings. */
  enforcedValueSets: number;
  /** Distinct value set references behind the skipped bindings. */
  skippedValueSets: number;
}

const BINDABLE_TYPES: Readonly<Record<string, CodedValueKind>> = {
  code: 'code',
  string: 'code',
  uri: 'code',
  Coding: 'Coding',
  CodeableConcept: 'CodeableConcept',
};

interface DraftRule {
  /** The element definition the rule comes from; several rules share one for `value[x]`. */
  elementPath: string;
  property: string;
  binding?: { kind: CodedValueKind; valueSet: string };
  childKey?: string;
}

/**
 * Builds the rule index from resource and complex-type StructureDefinitions (specializations
 * only: constraint profiles such as SimpleQuantity change no bindings of the base type).
 *
 * Only rules that can lead to an enforced binding are kept, so the walk touches nothing else.
 * Extension is left out: the binding of an extension value comes from the extension's own
 * definition, which the base specification does not carry.
 */
export function buildRequiredBindingRules(
  structureDefinitions: readonly StructureDefinition[],
  allowedCodesFor: (valueSet: string) => AllowedCodes | undefined,
): { rules: RuleIndex; stats: RequiredBindingStats } {
  const drafts = draftRulesByKey(structureDefinitions);
  const { allowedByRule, stats } = resolveBindings(drafts, allowedCodesFor);
  return { rules: keepRulesLeadingToBindings(drafts, allowedByRule), stats };
}

function draftRulesByKey(structureDefinitions: readonly StructureDefinition[]): Map<string, DraftRule[]> {
  const complexTypes = new Set<string>();
  for (const sd of structureDefinitions) if (isWalkable(sd)) complexTypes.add(sd.type);

  const drafts = new Map<string, DraftRule[]>();
  for (const sd of structureDefinitions) {
    if (!isWalkable(sd)) continue;
    const elements = sd.snapshot?.element ?? [];
    const pathsWithChildren = new Set(elements.map((element) => parentPath(element.path ?? '')));
    for (const element of elements) {
      const path = element.path ?? '';
      if (!path.includes('.')) continue;
      const key = parentPath(path);
      let rules = drafts.get(key);
      if (!rules) drafts.set(key, (rules = []));
      rules.push(...draftRules(element, pathsWithChildren, complexTypes));
    }
  }
  return drafts;
}

/** Expands the value set behind every bound rule, counting per element definition. */
function resolveBindings(
  drafts: ReadonlyMap<string, readonly DraftRule[]>,
  allowedCodesFor: (valueSet: string) => AllowedCodes | undefined,
): { allowedByRule: Map<DraftRule, AllowedCodes>; stats: RequiredBindingStats } {
  const allowedByRule = new Map<DraftRule, AllowedCodes>();
  const enforcedElements = new Set<string>();
  const skippedElements = new Set<string>();
  const enforcedValueSets = new Set<string>();
  const skippedValueSets = new Set<string>();
  for (const rules of drafts.values()) {
    for (const rule of rules) {
      if (!rule.binding) continue;
      const allowed = allowedCodesFor(rule.binding.valueSet);
      if (allowed) {
        allowedByRule.set(rule, allowed);
        enforcedElements.add(rule.elementPath);
        enforcedValueSets.add(rule.binding.valueSet);
      } else {
        skippedElements.add(rule.elementPath);
        skippedValueSets.add(rule.binding.valueSet);
      }
    }
  }
  const stats: RequiredBindingStats = {
    requiredBindings: enforcedElements.size + skippedElements.size,
    enforcedBindings: enforcedElements.size,
    skippedBindings: skippedElements.size,
    enforcedValueSets: enforcedValueSets.size,
    skippedValueSets: skippedValueSets.size,
  };
  return { allowedByRule, stats };
}

/** The final index: per key, only the rules that check something or lead to something checked. */
function keepRulesLeadingToBindings(
  drafts: ReadonlyMap<string, readonly DraftRule[]>,
  allowedByRule: ReadonlyMap<DraftRule, AllowedCodes>,
): RuleIndex {
  const relevantKeys = keysLeadingToEnforcedBindings(drafts, (rule) => allowedByRule.has(rule));
  const rules = new Map<string, ElementRule[]>();
  for (const key of relevantKeys) {
    const kept: ElementRule[] = [];
    for (const draft of drafts.get(key) ?? []) {
      const allowed = allowedByRule.get(draft);
      const childKey =
        draft.childKey === RESOURCE_BY_TYPE || (draft.childKey !== undefined && relevantKeys.has(draft.childKey))
          ? draft.childKey
          : undefined;
      if (!allowed && !childKey) continue;
      kept.push({
        property: draft.property,
        ...(allowed && draft.binding ? { binding: { kind: draft.binding.kind, allowed } } : {}),
        ...(childKey ? { childKey } : {}),
      });
    }
    rules.set(key, kept);
  }
  return rules;
}

function isWalkable(sd: StructureDefinition): boolean {
  return (
    (sd.kind === 'resource' || sd.kind === 'complex-type') &&
    sd.derivation !== 'constraint' &&
    sd.type !== 'Extension'
  );
}

/** One draft rule per JSON property the element can appear as (several for `value[x]`). */
function draftRules(
  element: ElementDefinition,
  pathsWithChildren: ReadonlySet<string>,
  complexTypes: ReadonlySet<string>,
): DraftRule[] {
  const path = element.path ?? '';
  const name = path.slice(path.lastIndexOf('.') + 1);
  const binding = element.binding?.strength === 'required' ? element.binding.valueSet : undefined;

  if (element.contentReference) {
    // e.g. Questionnaire.item.item reuses the definition at #Questionnaire.item.
    const childKey = element.contentReference.slice(element.contentReference.indexOf('#') + 1);
    return [{ elementPath: path, property: name, childKey }];
  }

  const drafts: DraftRule[] = [];
  for (const type of element.type ?? []) {
    const typeCode = type.code;
    if (!typeCode) continue;
    const property = name.endsWith('[x]') ? name.slice(0, -3) + typeCode[0].toUpperCase() + typeCode.slice(1) : name;
    const draft: DraftRule = { elementPath: path, property };
    const kind = BINDABLE_TYPES[typeCode];
    if (binding && kind) draft.binding = { kind, valueSet: binding };
    if (pathsWithChildren.has(path)) draft.childKey = path;
    else if (typeCode === 'Resource') draft.childKey = RESOURCE_BY_TYPE;
    else if (complexTypes.has(typeCode)) draft.childKey = typeCode;
    if (draft.binding || draft.childKey) drafts.push(draft);
  }
  return drafts;
}

/**
 * Keys whose rules reach an enforced binding, directly or through children. Types refer to each
 * other in cycles (Reference → Identifier → Reference, Questionnaire.item → itself), so this is a
 * fixed point rather than a single recursive pass.
 */
function keysLeadingToEnforcedBindings(
  drafts: ReadonlyMap<string, readonly DraftRule[]>,
  isEnforced: (rule: DraftRule) => boolean,
): Set<string> {
  const relevant = new Set<string>();
  let changed = true;
  while (changed) {
    changed = false;
    for (const [key, rules] of drafts) {
      if (relevant.has(key)) continue;
      const leads = rules.some(
        (rule) =>
          isEnforced(rule) ||
          rule.childKey === RESOURCE_BY_TYPE ||
          (rule.childKey !== undefined && relevant.has(rule.childKey)),
      );
      if (leads) {
        relevant.add(key);
        changed = true;
      }
    }
  }
  return relevant;
}

function parentPath(path: string): string {
  const dot = path.lastIndexOf('.');
  return dot === -1 ? '' : path.slice(0, dot);
}
