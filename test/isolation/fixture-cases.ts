// Every fixture the isolation tests build, named for failure reports: per type the instance that
// belongs to no patient, and one instance per patient link.
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { resourceTypes } from '../../resources/definitions.js';
import { instanceFor, patientLinks, type PatientLink } from './instances.js';

export interface FixtureCase {
  label: string;
  type: string;
  /** Undefined for the instance that belongs to no patient. */
  link?: PatientLink;
  build: (patient: string) => Resource;
}

export function fixtureCases(marker: string): FixtureCase[] {
  const all: FixtureCase[] = [];
  for (const type of resourceTypes()) {
    all.push({ label: `${type} (no patient)`, type, build: () => instanceFor(type, undefined, undefined, marker) });
    for (const link of patientLinks(type)) {
      all.push({ label: `${type} by ${link.parameter}`, type, link, build: (patient) => instanceFor(type, { patient }, link, marker) });
    }
  }
  return all;
}

/** Issues one per line, indented under the case they belong to. */
export function describeIssues(issues: readonly OperationOutcomeIssue[]): string {
  return issues.map((issue) => `    ${issue.expression?.join(', ') ?? ''}: ${issue.details?.text ?? issue.diagnostics ?? issue.code}`).join('\n');
}
