// Fills every required element (min ≥ 1) of a type from its StructureDefinition, recursively, with
// values of the right datatype: what makes a fixture pass cardinality checks whatever its type.
import { tryGetDataType, type InternalSchemaElement, type InternalTypeSchema } from '@medplum/core';
import { requiredCode } from './coded-values.js';
import { complexValue, primitiveValue, type Json } from './datatype-values.js';
import { adjustmentFor } from './invariant-adjustments.js';
import { supportReference } from './support-references.js';

export type { Json } from './datatype-values.js';
type ElementType = InternalSchemaElement['type'][number];

/** Which type of a choice element (`value[x]`) to use: simple ones first, a Reference last. */
const CHOICE_PREFERENCE = ['string', 'boolean', 'CodeableConcept', 'uri', 'dateTime', 'date', 'integer', 'Quantity', 'Period', 'canonical'];

// Datatypes nest (Identifier → Reference → Identifier) but never through required elements; a
// deeper fill would mean a cycle, which should fail loudly rather than overflow the stack.
const MAX_DEPTH = 12;

export function schemaOf(typeName: string): InternalTypeSchema {
  const schema = tryGetDataType(typeName);
  if (!schema) throw new Error(`No type schema for ${typeName}`);
  return schema;
}

/**
 * An object of `typeName` (resource, datatype or backbone element) holding its required elements,
 * and the optional ones its invariants need (invariant-adjustments.ts).
 */
export function requiredElements(typeName: string, depth = 0): Json {
  if (depth > MAX_DEPTH) throw new Error(`Required elements nest too deep at ${typeName}`);
  const adjustment = adjustmentFor(typeName);
  const alsoFill = new Set(adjustment?.alsoFill);
  const filled: Json = {};
  for (const [key, element] of Object.entries(schemaOf(typeName).elements)) {
    if (element.min < 1 && !alsoFill.has(key)) continue;
    alsoFill.delete(key);
    const { property, value } = elementValue(key, element, depth);
    filled[property] = isRepeating(element) ? [value] : value;
  }
  if (alsoFill.size) throw new Error(`${typeName} has no element ${[...alsoFill].join(', ')} to fill`);
  adjustment?.adjust?.(filled);
  return filled;
}

/** The JSON property and a single value (not wrapped in an array) for one element. */
function elementValue(key: string, element: InternalSchemaElement, depth = 0): { property: string; value: unknown } {
  const type = chosenType(element);
  const property = key.endsWith('[x]') ? key.slice(0, -3) + type.code[0].toUpperCase() + type.code.slice(1) : key;
  return { property, value: valueOfType(type, element, depth) };
}

export function isRepeating(element: InternalSchemaElement): boolean {
  return element.isArray === true || element.max > 1;
}

/** The resource types a Reference element may point to (`Resource` for any). */
function referenceTargets(type: ElementType): string[] {
  return (type.targetProfile ?? []).map((profile) => profile.slice(profile.lastIndexOf('/') + 1));
}

function chosenType(element: InternalSchemaElement): ElementType {
  if (element.type.length === 1) return element.type[0];
  for (const code of CHOICE_PREFERENCE) {
    const type = element.type.find((candidate) => candidate.code === code);
    if (type) return type;
  }
  return element.type[0];
}

function valueOfType(type: ElementType, element: InternalSchemaElement, depth: number): unknown {
  const code = type.code;
  if (code === 'Reference') return supportReference(referenceTargets(type), element.path);
  const binding = element.binding?.strength === 'required' ? element.binding.valueSet : undefined;
  if (binding) {
    const bound = requiredCode(binding);
    if (code === 'code' || code === 'string' || code === 'uri') return bound.code;
    if (code === 'Coding') return { ...bound };
    if (code === 'CodeableConcept') return { coding: [{ ...bound }] };
  }
  const primitive = primitiveValue(code);
  if (primitive !== undefined) return primitive;
  const complex = complexValue(code);
  if (complex !== undefined) return complex;
  return requiredElements(code, depth + 1);
}
