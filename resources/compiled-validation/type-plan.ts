// What the compiled validator knows of a type before it sees a resource: for each element, the
// JSON keys that make it present, whether it can be read without the interpreter, its invariants
// parsed once, and which elements must be there. Built once per type schema, on first use.
import { parseFhirPath, type FhirPathAtom, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';

/** An invariant as the StructureDefinition states it, with its FHIRPath parsed (or why it could not be). */
export interface Invariant {
  constraint: { key: string; severity: 'error' | 'warning'; expression: string; description: string };
  parsed?: FhirPathAtom;
  parseError?: Error;
}

export interface ElementPlan {
  /** The element's name in the schema: `name`, or `value[x]` for a choice of types. */
  key: string;
  element: InternalSchemaElement;
  /** The JSON keys that hold the element: each type's name and its `_` partner for extensions. */
  jsonKeys: string[];
  /**
   * A single-typed element read straight from its JSON key (when no `_` partner is present), with
   * the type its values carry; choices of type and primitive extensions go through the interpreter.
   */
  direct?: { jsonKey: string; type: string };
  /** The invariants checked on each of its values: errors only, less the ones R4 validators skip. */
  invariants: Invariant[];
}

export interface TypePlan {
  schema: InternalTypeSchema;
  elements: ElementPlan[];
  /** The indices of the elements each JSON key holds (a key may, in principle, hold two). */
  byJsonKey: Map<string, number[]>;
  /** Indices of the elements with a minimum cardinality above zero. */
  required: number[];
  /** Invariants on the type itself (checked on the root resource only, as the interpreter does). */
  invariants: Invariant[];
  /**
   * Profiles' slicing, fixed and pattern values, and nested element keys: the interpreter validates
   * a resource that meets one. The R4 base types have none.
   */
  needsInterpreter: boolean;
  /** A JSON key an object inherits from Object.prototype: its presence cannot be read from own keys. */
  probesEveryElement: boolean;
}

/**
 * Invariants every R4 validator leaves out: ele-1 (checked structurally), dom-3 (needs
 * descendants() over the whole resource), org-1 (kept back for compatibility), sdf-19.
 */
const SKIPPED_INVARIANTS = new Set(['ele-1', 'dom-3', 'org-1', 'sdf-19']);

const INHERITED_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

const capitalized = (code: string) => code.charAt(0).toUpperCase() + code.slice(1);

function invariantsOf(constraints: Invariant['constraint'][] | undefined): Invariant[] {
  return (constraints ?? [])
    .filter((c) => c.severity === 'error' && !SKIPPED_INVARIANTS.has(c.key))
    .map((constraint) => {
      try {
        return { constraint, parsed: parseFhirPath(constraint.expression) };
      } catch (error) {
        return { constraint, parseError: error as Error };
      }
    });
}

function elementPlan(key: string, element: InternalSchemaElement): ElementPlan {
  // The interpreter names a value's key from the last segment of the element's path.
  const name = element.path.slice(element.path.lastIndexOf('.') + 1);
  const types = element.type ?? [];
  const jsonKeys = types.flatMap((t) => {
    const jsonKey = name.replace('[x]', capitalized(t.code));
    return [jsonKey, `_${jsonKey}`];
  });
  const single = types.length === 1 ? { jsonKey: name.replace('[x]', capitalized(types[0].code)), type: types[0].code } : undefined;
  return { key, element, jsonKeys: [...new Set(jsonKeys)], direct: single, invariants: invariantsOf(element.constraints) };
}

const plans = new WeakMap<InternalTypeSchema, TypePlan>();

export function typePlan(schema: InternalTypeSchema): TypePlan {
  let plan = plans.get(schema);
  if (plan) return plan;
  const elements = Object.entries(schema.elements).map(([key, element]) => elementPlan(key, element));
  const byJsonKey = new Map<string, number[]>();
  elements.forEach((e, index) => {
    for (const jsonKey of e.jsonKeys) byJsonKey.set(jsonKey, [...(byJsonKey.get(jsonKey) ?? []), index]);
  });
  plan = {
    schema,
    elements,
    byJsonKey,
    required: elements.flatMap((e, index) => (e.element.min > 0 ? [index] : [])),
    invariants: invariantsOf(schema.constraints),
    needsInterpreter: elements.some((e) => e.key.includes('.') || e.element.slicing || e.element.fixed || e.element.pattern),
    probesEveryElement: [...byJsonKey.keys()].some((k) => INHERITED_KEYS.has(k)),
  };
  plans.set(schema, plan);
  return plan;
}
