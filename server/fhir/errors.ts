// FHIR R4 §3.1.0.1.10 "Handling errors" (hl7.org/fhir/R4/http.html#summary): every failure is an
// OperationOutcome with an HTTP status. This is the one catalogue of the failures Kiln raises.
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

export type IssueCode = OperationOutcomeIssue['code'];

/** A failure that the HTTP layer turns into `status` + an OperationOutcome. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly issues: OperationOutcomeIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(issues.map((issue) => issue.details?.text ?? issue.diagnostics ?? issue.code).join('; '));
  }

  toOperationOutcome(): OperationOutcome {
    return operationOutcome(this.issues);
  }
}

export function operationOutcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export function issue(code: IssueCode, text: string, expression?: string): OperationOutcomeIssue {
  return {
    severity: 'error',
    code,
    details: { text },
    ...(expression ? { expression: [expression] } : {}),
  };
}

const fail = (status: number, code: IssueCode) => (text: string, expression?: string) =>
  new FhirError(status, [issue(code, text, expression)]);

export const badRequest = fail(400, 'invalid');
export const invalidValue = fail(400, 'value');
export const notSupported = fail(400, 'not-supported');
export const notFound = fail(404, 'not-found');
export const methodNotAllowed = fail(405, 'not-supported');
export const notAcceptable = fail(406, 'not-supported');
export const conflict = fail(409, 'conflict');
export const gone = fail(410, 'deleted');
export const preconditionFailed = fail(412, 'conflict');
export const tooLarge = fail(413, 'too-costly');
export const unsupportedMediaType = fail(415, 'not-supported');
export const unprocessable = fail(422, 'business-rule');
export const busy = fail(503, 'transient');

/** A write rejected by validation: one issue per problem, each with its FHIRPath location. */
export function invalidResource(issues: OperationOutcomeIssue[]): FhirError {
  return new FhirError(400, issues);
}

export function informational(text: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', details: { text } }]);
}
