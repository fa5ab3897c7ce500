// FHIR R4 §4.1 Using Codes: required bindings (hl7.org/fhir/R4/terminologies.html#required): finding every
// bound value in a resource instance, with its FHIRPath location.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { bindingViolation } from './coded-value-membership.js';
import { RESOURCE_BY_TYPE, type ElementRule, type RuleIndex } from './required-binding-rules.js';

/**
 * Appends an issue for every bound value under `node` that is not in its value set.
 * `path` is the FHIRPath of `node` in the style of @medplum/core's validator:
 * `Patient.contact[0].gender`, `Patient.contained[1].identifier[0].use`.
 */
export function collectBindingViolations(
  ruleIndex: RuleIndex,
  rules: readonly ElementRule[],
  node: Record<string, unknown>,
  path: string,
  issues: OperationOutcomeIssue[],
): void {
  for (const rule of rules) {
    const value = node[rule.property];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (item !== null && item !== undefined) {
          checkValue(ruleIndex, rule, item, `${path}.${rule.property}[${i}]`, issues);
        }
      }
    } else {
      checkValue(ruleIndex, rule, value, `${path}.${rule.property}`, issues);
    }
  }
}

function checkValue(
  ruleIndex: RuleIndex,
  rule: ElementRule,
  value: unknown,
  path: string,
  issues: OperationOutcomeIssue[],
): void {
  if (rule.binding) {
    const violation = bindingViolation(rule.binding.kind, value, rule.binding.allowed);
    if (violation) {
      issues.push({ severity: 'error', code: 'code-invalid', details: { text: violation }, expression: [path] });
    }
  }
  if (rule.childKey === undefined || typeof value !== 'object' || Array.isArray(value)) return;
  const child = value as Record<string, unknown>;
  const childRules =
    rule.childKey === RESOURCE_BY_TYPE
      ? typeof child.resourceType === 'string'
        ? ruleIndex.get(child.resourceType)
        : undefined
      : ruleIndex.get(rule.childKey);
  if (childRules) collectBindingViolations(ruleIndex, childRules, child, path, issues);
}
