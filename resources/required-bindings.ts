// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required).
// @medplum/core's validateResource checks structure and cardinality but not value set membership,
// so this rejects a code outside the value set of a required binding, anywhere in a resource.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { buildRequiredBindingIndex } from './terminology/required-binding-definitions.js';
import type { RequiredBindingStats, RuleIndex } from './terminology/required-binding-rules.js';
import { collectBindingViolations } from './terminology/required-binding-walk.js';

export type { RequiredBindingStats } from './terminology/required-binding-rules.js';

let ruleIndex: RuleIndex | undefined;
let loadStats: RequiredBindingStats | undefined;

/** Loads and indexes what the checker needs; idempotent; call once at start-up (tests may call it too). */
export function loadRequiredBindings(): void {
  if (ruleIndex) return;
  const built = buildRequiredBindingIndex();
  ruleIndex = built.rules;
  loadStats = built.stats;
}

/** Every coded value in `resource` whose element has a REQUIRED binding and whose code is not in that value set. */
export function checkRequiredBindings(resource: Resource): OperationOutcomeIssue[] {
  // Loading here too keeps a missed start-up call from silently accepting everything.
  loadRequiredBindings();
  const index = ruleIndex as RuleIndex;
  const issues: OperationOutcomeIssue[] = [];
  const rules = index.get(resource.resourceType);
  const root = resource as unknown as Record<string, unknown>;
  if (rules) collectBindingViolations(index, rules, root, resource.resourceType, issues);
  return issues;
}

/** What the loaded index enforces and what it skips because a value set cannot be expanded. */
export function requiredBindingStats(): RequiredBindingStats {
  loadRequiredBindings();
  return { ...(loadStats as RequiredBindingStats) };
}
