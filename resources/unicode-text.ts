// FHIR R4 §2.24.0.1 string (hl7.org/fhir/R4/datatypes.html#string: `[ \r\n\t\S]+`) and §2.6.2 JSON
// (hl7.org/fhir/R4/json.html: UTF-8): every string of a resource, names of properties included, is
// Unicode text. A lone UTF-16 surrogate has no UTF-8 form and U+0000 is no character a FHIR string
// holds; Postgres refuses both in jsonb, so one stored resource would break every full-text search
// of its type. They are refused on the way in.
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

// A high surrogate not followed by a low one, a low one not preceded by a high one, or NUL.
const NOT_TEXT = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\u0000/;

function problem(text: string): string | undefined {
  const found = NOT_TEXT.exec(text);
  if (!found) return undefined;
  if (found[0] === '\u0000') return 'contains U+0000 (NUL), which a FHIR string may not hold';
  const unit = found[0].charCodeAt(0).toString(16).padStart(4, '0');
  return `contains a lone UTF-16 surrogate (\\u${unit}), which is not Unicode text`;
}

function issueAt(path: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'invalid', details: { text: `${path}: ${text}` }, expression: [path] };
}

/** Every string of `value` (and every property name) that is not Unicode text, at its location. */
export function unicodeIssues(value: unknown, root: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length) {
    const [node, path] = stack.pop() as [unknown, string];
    if (typeof node === 'string') {
      const found = problem(node);
      if (found) issues.push(issueAt(path, found));
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], `${path}[${i}]`]);
    } else if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        const found = problem(key);
        if (found) issues.push(issueAt(path, `the property name ${JSON.stringify(key)} ${found}`));
        else stack.push([child, `${path}.${key}`]);
      }
    }
  }
  return issues;
}
