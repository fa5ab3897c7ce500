// Search parameters' FHIRPath, turned once into plain functions for the shapes nearly all R4
// parameters use: a path (`Observation.subject`), a union of paths, `as Type` / `.as(Type)` on a
// path, `.where(resolve() is Type)` and `.where(element = 'literal')`. Each
// step does what the interpreter's step does (the same property reads with the same schema), but
// without walking the syntax tree, building contexts and looking up variables for every resource,
// and with each (type, element) schema lookup made once. Any other expression keeps the
// interpreter. compiled-expression.test.ts checks that both give the same values for every parameter.
import {
  AsAtom,
  DotAtom,
  EqualsAtom,
  FhirPathAtom,
  FunctionAtom,
  IsAtom,
  LiteralAtom,
  SymbolAtom,
  UnionAtom,
  evalFhirPathTyped,
  fhirPathArrayEquals,
  fhirPathIs,
  getElementDefinition,
  getTypedPropertyValueWithSchema,
  getTypedPropertyValueWithoutSchema,
  isEmpty,
  isResource,
  parseFhirPath,
  removeDuplicates,
  toJsBoolean,
  type TypedValue,
} from '@medplum/core';

/** What an expression gives for its input and variables (`%resource`), as `evalFhirPathTyped` gives it. */
export type Evaluate = (input: TypedValue[], variables?: Record<string, TypedValue>) => TypedValue[];

type Step = (input: TypedValue[]) => TypedValue[];

/** `(a)`: the parser's parenthesised atom is not exported; it holds its expression in `expr`. */
function parenthesised(atom: unknown): unknown {
  if (atom && typeof atom === 'object' && 'expr' in atom && Object.keys(atom).length === 1) return (atom as { expr: unknown }).expr;
  return undefined;
}

type Element = NonNullable<ReturnType<typeof getElementDefinition>>;

/**
 * How to read one element of one type, worked out once: the property names it may have in JSON
 * (`valueQuantity`, `valueString`, … for a choice) with the type each stands for, as the
 * interpreter's schema read tries them, in the same order.
 */
interface PropertyPlan {
  element: Element;
  candidates: { property: string; extension: string; type: string }[];
}

/** Plans by type, then element name; null where the type has no schema for the name. */
const plans = new Map<string, Map<string, PropertyPlan | null>>();

function planOf(type: string, name: string): PropertyPlan | null {
  let ofType = plans.get(type);
  if (!ofType) {
    ofType = new Map();
    plans.set(type, ofType);
  }
  let plan = ofType.get(name);
  if (plan === undefined) {
    const element = getElementDefinition(type, name);
    plan = element
      ? {
          element,
          candidates: (element.type ?? []).map((candidate) => {
            const last = element.path.slice(element.path.lastIndexOf('.') + 1);
            const property = last.replace('[x]', candidate.code.charAt(0).toUpperCase() + candidate.code.slice(1));
            return { property, extension: `_${property}`, type: candidate.code };
          }),
        }
      : null;
    ofType.set(name, plan);
  }
  return plan;
}

function typed(value: unknown, type: string): TypedValue {
  return { type: type === 'Resource' && isResource(value) ? value.resourceType : type, value };
}

/** The interpreter's schema read (getTypedPropertyValueWithSchema) with its string work done beforehand. */
function readWithPlan(item: TypedValue, name: string, plan: PropertyPlan, out: TypedValue[]): void {
  const value = item.value as Record<string, unknown>;
  let found: unknown;
  let type = 'undefined';
  for (const candidate of plan.candidates) {
    found = value[candidate.property];
    if (value[candidate.extension] !== undefined) {
      // A primitive with an extension: rare, and merged into the value exactly as the interpreter does.
      pushPresent(getTypedPropertyValueWithSchema(item, name, plan.element), out);
      return;
    }
    if (found !== undefined) {
      type = candidate.type;
      break;
    }
  }
  if (isEmpty(found)) return;
  if (type === 'Element' || type === 'BackboneElement') type = plan.element.type[0].code;
  if (Array.isArray(found)) {
    for (const each of found) if (each !== undefined) out.push(typed(each, type));
  } else out.push(typed(found, type));
}

function pushPresent(found: TypedValue[] | TypedValue | undefined, out: TypedValue[]): void {
  if (Array.isArray(found)) {
    for (const each of found) if (each?.value !== undefined) out.push(each);
  } else if (found?.value !== undefined) out.push(found);
}

/** One element of each input, as the interpreter's symbol step reads it. */
function child(name: string): Step {
  return (input) => {
    const out: TypedValue[] = [];
    for (const item of input) {
      const value = item.value as Record<string, unknown> | undefined;
      if (!value || typeof value !== 'object') continue;
      // A resource's own type name stands for the resource itself (`Observation.code`).
      if (value.resourceType === name) {
        out.push(item);
        continue;
      }
      const plan = planOf(item.type, name);
      if (plan) readWithPlan(item, name, plan, out);
      else pushPresent(getTypedPropertyValueWithoutSchema(item, name), out);
    }
    return out;
  };
}

function symbolName(atom: unknown): string | undefined {
  return atom instanceof SymbolAtom && !atom.name.startsWith('%') && !atom.name.startsWith('$') ? atom.name : undefined;
}

const RESOLVE = parseFhirPath('resolve()');

/** Whether a reference resolves to `type`, as the interpreter's resolve() decides it (from the reference alone). */
function resolvesTo(item: TypedValue, type: string): boolean {
  const resolved = evalFhirPathTyped(RESOLVE, [item]);
  return resolved.length === 1 && fhirPathIs(resolved[0], type);
}

/** The test inside `where(…)`, for one item; undefined for a test this module does not compile. */
function whereTest(criteria: unknown): ((item: TypedValue) => boolean) | undefined {
  // where(resolve() is Patient)
  if (criteria instanceof IsAtom && criteria.left instanceof FunctionAtom && criteria.left.name === 'resolve' && !criteria.left.args.length) {
    const type = symbolName(criteria.right);
    if (!type) return undefined;
    return (item) => resolvesTo(item, type);
  }
  // where(system = 'phone')
  if (criteria instanceof EqualsAtom && criteria.right instanceof LiteralAtom) {
    const left = compileAtom(criteria.left);
    const literal = [criteria.right.value];
    if (!left) return undefined;
    return (item) => toJsBoolean(fhirPathArrayEquals(left([item]), literal));
  }
  return undefined;
}

function compileFunction(atom: FunctionAtom): Step | undefined {
  const [argument] = atom.args;
  if (atom.args.length !== 1) return undefined;
  switch (atom.name) {
    // The interpreter's as() passes its input through whatever the type.
    case 'as':
      return symbolName(argument) ? (input) => input : undefined;
    case 'where': {
      const test = whereTest(argument);
      return test ? (input) => input.filter(test) : undefined;
    }
    default:
      return undefined;
  }
}

function compileAtom(atom: unknown): Step | undefined {
  if (atom instanceof FhirPathAtom) return compileAtom(atom.child);
  const inner = parenthesised(atom);
  if (inner) return compileAtom(inner);
  if (atom instanceof DotAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    return left && right ? (input) => right(left(input)) : undefined;
  }
  if (atom instanceof UnionAtom) {
    const left = compileAtom(atom.left);
    const right = compileAtom(atom.right);
    return left && right ? (input) => removeDuplicates([...left(input), ...right(input)]) : undefined;
  }
  if (atom instanceof AsAtom) {
    const left = compileAtom(atom.left);
    const type = symbolName(atom.right);
    return left && type ? (input) => left(input).filter((item) => item.type === type) : undefined;
  }
  if (atom instanceof FunctionAtom) return compileFunction(atom);
  const name = symbolName(atom);
  return name ? child(name) : undefined;
}

/**
 * The expression as a function, or undefined when its shape is not one compiled here (the caller
 * then runs the interpreter). Values come out as `evalFhirPathTyped` gives them: primitives
 * unwrapped from the objects that carry their extensions.
 */
export function compileExpression(parsed: FhirPathAtom): Evaluate | undefined {
  const step = compileAtom(parsed);
  if (!step) return undefined;
  return (input) => step(input).map((item) => ({ type: item.type, value: (item.value as { valueOf(): unknown } | null | undefined)?.valueOf() }));
}

/** The compiled function of `parsed`, else the interpreter on it. */
export function evaluator(parsed: FhirPathAtom): Evaluate {
  return compileExpression(parsed) ?? ((input, variables) => evalFhirPathTyped(parsed, input, variables));
}
