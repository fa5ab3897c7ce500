// R4 structural validation (FHIR R4 §2.4: cardinality, datatypes, choices of type, reference
// targets, invariants) from per-type plans. The R4 validator of @medplum/core is the oracle: it
// reads every element of every schema for each object it meets, present or not; this one reads the
// keys present and the elements that must be, and reaches the same issues at the same paths
// (resources/compiled-validation/structure-validator.test.ts compares the two).
import {
  createConstraintIssue,
  createOperationOutcomeIssue,
  createProcessingIssue,
  createStructureIssue,
  getDataType,
  getNestedProperty,
  getTypedPropertyValue,
  isEmpty,
  isPrimitiveType,
  isReference,
  isResource,
  OperationOutcomeError,
  toTypedValue,
  UCUM,
  validateResource,
  type InternalTypeSchema,
  type TypedValue,
} from '@medplum/core';
import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { nullIssues, primitiveIssues } from './primitive-values.js';
import { typePlan, type ElementPlan, type Invariant, type TypePlan } from './type-plan.js';

type Located = TypedValue & { path: string };

/** Thrown when a plan meets what only the interpreter validates (a profile's slicing). */
class InterpreterNeeded extends Error {}

const UCUM_VALUE = toTypedValue(UCUM);
const HL7_PROFILES = 'http://hl7.org/fhir/StructureDefinition/';
const MEDPLUM_PROFILES = 'https://medplum.com/fhir/StructureDefinition/';

class StructureWalk {
  readonly issues: OperationOutcomeIssue[] = [];
  private readonly resources: Resource[] = [];
  private readonly rootResource?: TypedValue;

  constructor(private readonly root: TypedValue) {
    if (isResource(root.value)) {
      this.resources.push(root.value);
      this.rootResource = root;
    }
  }

  run(): void {
    const schema = getDataType(this.root.type);
    this.checkInvariants({ ...this.root, path: schema.path }, typePlan(schema).invariants);
    nullIssues(this.root.value as Record<string, unknown>, schema.path, this.issues);
    this.walkObject({ ...this.root, path: schema.path }, schema, schema.path);
  }

  /** `object`'s elements: the ones present and the ones that must be, in the schema's order. */
  private walkObject(object: Located, schema: InternalTypeSchema, crawlPath: string): void {
    const plan = typePlan(schema);
    if (plan.needsInterpreter) throw new InterpreterNeeded();
    const entered = isResource(object.value);
    if (entered) this.resources.push(object.value as Resource);
    for (const index of this.elementsToVisit(object.value, plan)) this.visitElement(object, plan.elements[index], `${crawlPath}.${plan.elements[index].key}`);
    this.additionalProperties(object, plan);
    if (entered) this.resources.pop();
  }

  private elementsToVisit(value: unknown, plan: TypePlan): number[] {
    const plain = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
    if (!plain || plan.probesEveryElement) {
      // Anything else (a string where an object belongs, an array…) is read element by element, as the interpreter does.
      return plan.elements.map((_, index) => index);
    }
    const indices = new Set(plan.required);
    for (const key of Object.keys(value as object)) for (const index of plan.byJsonKey.get(key) ?? []) indices.add(index);
    return [...indices].sort((a, b) => a - b);
  }

  /** The element's values with their paths, as the interpreter gives them. */
  private read(object: Located, plan: ElementPlan): Located | Located[] {
    const direct = plan.direct;
    const source = object.value as Record<string, unknown>;
    if (!direct || !source || typeof source !== 'object' || source[`_${direct.jsonKey}`] !== undefined || Object.getPrototypeOf(source) !== Object.prototype) {
      return getNestedProperty(object, plan.key, { withPath: true })[0];
    }
    const at = `${object.path}.${plan.key}`;
    const raw = source[direct.jsonKey];
    if (isEmpty(raw)) return { type: 'undefined', value: undefined, path: at };
    const typeOf = (v: unknown) => (direct.type === 'Resource' && isResource(v) ? v.resourceType : direct.type);
    if (Array.isArray(raw)) return raw.map((v, i) => ({ type: typeOf(v), value: v, path: `${at}[${i}]` }));
    return { type: typeOf(raw), value: raw, path: at };
  }

  private visitElement(object: Located, plan: ElementPlan, path: string): void {
    const found = this.read(object, plan);
    this.checkElement(found, plan, path);
    const values = Array.isArray(found) ? found : [found];
    for (const value of values) {
      if (!isPrimitiveType(value.type)) this.walkObject(value, getDataType(value.type), path);
    }
  }

  private checkElement(found: Located | Located[], plan: ElementPlan, path: string): void {
    const element = plan.element;
    if (!Array.isArray(found) && found.value === undefined) {
      if (element.min > 0) this.issues.push(createStructureIssue(found.path, 'Missing required property'));
      return;
    }
    if (isEmpty(found)) {
      this.issues.push(createStructureIssue(path, 'Invalid empty value'));
      return;
    }
    if (Boolean(element.isArray) !== Array.isArray(found)) {
      this.issues.push(createStructureIssue(path, element.isArray ? 'Expected array of values for property' : 'Expected single value for property'));
      return;
    }
    const values = Array.isArray(found) ? found : [found];
    if (values.length < element.min || values.length > element.max) {
      const max = Number.isFinite(element.max) ? element.max : '*';
      this.issues.push(createStructureIssue(element.path, `Invalid number of values: expected ${element.min}..${max}, but found ${values.length}`));
    }
    for (const value of values) {
      this.checkInvariants(value, plan.invariants);
      this.checkReferenceTarget(value, plan);
      if (isPrimitiveType(value.type)) {
        const extension = primitiveIssues(value, value.path, this.issues);
        if (extension) this.walkObject({ type: 'Element', value: extension, path: value.path }, getDataType('Element'), value.path);
      } else if (isEmpty(value.value)) {
        this.issues.push(createStructureIssue(value.path, 'Invalid empty non-primitive value'));
      }
    }
  }

  /** The first invariant a value breaks, if any (one report per value, as R4 validators give). */
  private checkInvariants(value: Located, invariants: Invariant[]): void {
    if (!invariants.length) return;
    const variables: Record<string, TypedValue> = { '%context': value, '%ucum': UCUM_VALUE };
    if (this.resources.length) variables['%resource'] = toTypedValue(this.resources[this.resources.length - 1]);
    if (this.rootResource) variables['%rootResource'] = this.rootResource;
    for (const invariant of invariants) {
      if (!this.holds(invariant, value, variables)) {
        this.issues.push(createConstraintIssue(value.path, invariant.constraint));
        return;
      }
    }
  }

  private holds(invariant: Invariant, value: Located, variables: Record<string, TypedValue>): boolean {
    const fhirpath = invariant.constraint.expression;
    try {
      if (invariant.parseError) throw invariant.parseError;
      const result = (invariant.parsed as NonNullable<Invariant['parsed']>).eval({ variables }, [value]);
      return result.length === 1 && result[0].value?.valueOf() === true;
    } catch (error) {
      this.issues.push(createProcessingIssue(value.path, 'Error evaluating invariant expression', error as Error, { fhirpath }));
      return false;
    }
  }

  /** A literal reference's type against the element's target profiles; unknown profiles are not judged. */
  private checkReferenceTarget(value: Located, plan: ElementPlan): void {
    if (value.type !== 'Reference' || !isReference(value.value)) return;
    const reference = value.value.reference;
    if (reference.startsWith('#')) return;
    const targetType = reference.includes('?') ? reference.split('?')[0] : reference.split('/')[0];
    if (!targetType) return;
    const profiles = plan.element.type.find((t) => t.code === 'Reference')?.targetProfile;
    if (!profiles) return;
    for (const profile of profiles) {
      if (profile === `${HL7_PROFILES}Resource` || profile === HL7_PROFILES + targetType || profile === MEDPLUM_PROFILES + targetType) return;
      if (!profile.startsWith(HL7_PROFILES) && !profile.startsWith(MEDPLUM_PROFILES)) return;
    }
    this.issues.push(createOperationOutcomeIssue('warning', 'structure', `Invalid reference: got "${targetType}", expected "${profiles.join('", "')}"`, value.path));
  }

  /** Keys no element holds; and two keys for one choice of type (a warning). */
  private additionalProperties(object: Located, plan: TypePlan): void {
    const source = object.value as Record<string, unknown> | undefined;
    if (!source) return;
    const elements = plan.schema.elements;
    const choices: Record<string, string> = {};
    for (const key of Object.keys(source)) {
      if (key === 'resourceType') continue;
      const choice = this.choiceHolding(object, key, plan);
      if (choice) {
        const partner = choice.startsWith('_') ? choice.slice(1) : `_${choice}`;
        const expectedPartnerKey = key.startsWith('_') ? key.slice(1) : `_${key}`;
        if (partner in choices && choices[partner] !== expectedPartnerKey) {
          const property = choice.startsWith('_') ? choice.slice(1) : choice;
          this.issues.push(createOperationOutcomeIssue('warning', 'structure', `Type of primitive extension does not match the type of property "${property}"`, choice));
        }
        if (choices[choice]) {
          this.issues.push(createOperationOutcomeIssue('warning', 'structure', `Conflicting choice of type properties: "${key}", "${choices[choice]}"`, key));
        }
        choices[choice] = key;
        continue;
      }
      if (!(key in elements) && !(key.startsWith('_') && key.slice(1) in elements)) {
        this.issues.push(createStructureIssue(`${object.path}.${key}`, `Invalid additional property "${key}"`));
      }
    }
  }

  /** The choice element (`value[x]`, or `_value[x]`) a key such as `valueQuantity` holds, when that choice has a value. */
  private choiceHolding(object: Located, key: string, plan: TypePlan): string | undefined {
    const prefix = key.startsWith('_') ? '_' : '';
    const name = prefix ? key.slice(1) : key;
    const elements = plan.schema.elements;
    let candidate = '';
    for (const part of name.split(/(?=[A-Z])/g)) {
      candidate += part;
      if (elements[`${candidate}[x]`]) return getTypedPropertyValue(object, candidate) ? `${prefix}${candidate}[x]` : undefined;
    }
    return undefined;
  }
}

/**
 * Every structural issue of `resource` (errors and warnings), as the R4 validator of
 * @medplum/core reports them. Throws what that validator throws for what it cannot read.
 */
export function structuralIssues(resource: Resource): OperationOutcomeIssue[] {
  if (resource.resourceType) {
    const walk = new StructureWalk(toTypedValue(resource));
    try {
      walk.run();
      return walk.issues;
    } catch (error) {
      // An unknown type met on the way is the whole answer, as with the interpreter.
      if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
      if (!(error instanceof InterpreterNeeded)) throw error;
    }
  }
  return interpretedStructuralIssues(resource);
}

/** The oracle: the same issues from @medplum/core's validator. */
export function interpretedStructuralIssues(resource: Resource): OperationOutcomeIssue[] {
  try {
    return validateResource(resource);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
    throw error;
  }
}
