// FHIR R4 §2.6.2 JSON representation (hl7.org/fhir/R4/json.html#primitive): every element has the
// JSON type its datatype prescribes. @medplum/core's validator reads an object standing where a
// primitive belongs as that primitive's extensions, and lets an empty object stand for an array, so
// `subject.reference: {}` or `code.coding: {}` would pass; this walk checks the JSON type of every
// element against the StructureDefinitions, and reports each mismatch at its location.
import { fhirTypeToJsType, isResourceType, tryGetDataType, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

type JsonObject = Record<string, unknown>;

interface Matched {
  element: InternalSchemaElement;
  /** The datatype of this property: fixed by the element, or by the suffix of a choice (`valueQuantity`). */
  code: string;
  /** The name in locations, as @medplum/core writes it: `value[x]` for a choice. */
  pathName: string;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.keys(value).length ? 'an object' : 'an empty object';
  return `a ${typeof value}`;
}

function issueAt(path: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'structure', details: { text: `${path}: ${text}` }, expression: [path] };
}

/** The element a JSON property stands for, with its datatype; undefined for a property the type does not have. */
function elementFor(schema: InternalTypeSchema, name: string): Matched | undefined {
  // Own elements only: `constructor` or `toString` in a resource name no element.
  const element = (key: string) => (Object.hasOwn(schema.elements, key) ? schema.elements[key] : undefined);
  const direct = element(name);
  if (direct) return direct.type.length === 1 ? { element: direct, code: direct.type[0].code, pathName: name } : undefined;
  for (let end = 1; end < name.length; end++) {
    if (name.charCodeAt(end) < 0x41 || name.charCodeAt(end) > 0x5a) continue;
    const choice = element(`${name.slice(0, end)}[x]`);
    if (!choice) continue;
    const suffix = name.slice(end);
    const type = choice.type.find((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1) === suffix);
    return type ? { element: choice, code: type.code, pathName: `${name.slice(0, end)}[x]` } : undefined;
  }
  return undefined;
}

/** Every element of `resource` whose JSON type is not its datatype's. Assumes a depth already bounded. */
export function shapeIssues(resource: JsonObject): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const schema = typeof resource.resourceType === 'string' && isResourceType(resource.resourceType) ? tryGetDataType(resource.resourceType) : undefined;
  if (schema) checkObject(resource, schema, resource.resourceType as string, true, issues);
  return issues;
}

function checkObject(node: JsonObject, schema: InternalTypeSchema, path: string, isResource: boolean, issues: OperationOutcomeIssue[]): void {
  for (const [key, value] of Object.entries(node)) {
    if (isResource && key === 'resourceType') continue;
    const extension = key.startsWith('_');
    const matched = elementFor(schema, extension ? key.slice(1) : key);
    // Properties the type does not have are reported by the validator itself, except those named
    // like a member of every JavaScript object (`__proto__`, `constructor`), which it takes for known.
    if (!matched && key in Object.prototype) issues.push(issueAt(`${path}.${key}`, `"${key}" is not an element of ${schema.name}`));
    if (!matched || value === null) continue;
    const where = `${path}.${extension ? '_' : ''}${matched.pathName}`;
    const primitive = matched.code in fhirTypeToJsType;
    if (extension && !primitive) continue;
    if (matched.element.isArray) {
      if (!Array.isArray(value)) {
        issues.push(issueAt(where, `expected an array of ${extension ? 'extension elements' : matched.code}, not ${describe(value)}`));
        continue;
      }
      value.forEach((item, index) => item !== null && checkValue(item, matched.code, extension, `${where}[${index}]`, issues));
    } else if (Array.isArray(value)) {
      issues.push(issueAt(where, `expected a single ${extension ? 'extension element' : matched.code}, not an array`));
    } else {
      checkValue(value, matched.code, extension, where, issues);
    }
  }
}

function checkValue(value: unknown, code: string, extension: boolean, path: string, issues: OperationOutcomeIssue[]): void {
  if (extension) {
    // `_birthDate`: the id and extensions of a primitive, always an object.
    if (!isObject(value)) issues.push(issueAt(path, `expected an object holding the primitive's id and extensions, not ${describe(value)}`));
    else checkNested(value, 'Element', path, issues);
    return;
  }
  const jsonType = fhirTypeToJsType[code as keyof typeof fhirTypeToJsType];
  if (jsonType) {
    if (typeof value !== jsonType) issues.push(issueAt(path, `expected a JSON ${jsonType} (FHIR ${code}), not ${describe(value)}`));
    return;
  }
  if (code === 'Resource') {
    if (!isObject(value) || typeof value.resourceType !== 'string') issues.push(issueAt(path, `expected a resource (a JSON object with a resourceType), not ${describe(value)}`));
    else if (isResourceType(value.resourceType)) checkNested(value, value.resourceType, path, issues, true);
    return;
  }
  if (!isObject(value)) {
    issues.push(issueAt(path, `expected a JSON object (FHIR ${code}), not ${describe(value)}`));
    return;
  }
  checkNested(value, code, path, issues);
}

function checkNested(value: JsonObject, code: string, path: string, issues: OperationOutcomeIssue[], isResource = false): void {
  const schema = tryGetDataType(code);
  if (schema) checkObject(value, schema, path, isResource, issues);
}
