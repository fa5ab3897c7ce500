// FHIR R4 §3.1.1 search parameters (hl7.org/fhir/R4/searchparameter-registry.html): the official
// R4 SearchParameter definitions that apply to each resource type, with the part of each
// FHIRPath expression that concerns that type.
import { getExpressionForResourceType, getSearchParameters, parseFhirPath, type FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { resourceTypes } from '../definitions.js';

export type IndexedType = 'token' | 'string' | 'reference' | 'date' | 'number' | 'quantity' | 'uri' | 'composite' | 'near';
export type SimpleType = Exclude<IndexedType, 'composite' | 'near'>;

export interface CompositePart {
  type: SimpleType;
  /** FHIRPath from one item of the composite's own expression. */
  parsed: FhirPathAtom;
}

export interface ParameterDefinition {
  code: string;
  type: IndexedType;
  /** FHIRPath of this parameter for this resource type. */
  expression: string;
  /** The same, parsed once. */
  parsed: FhirPathAtom;
  /** Resource types a reference parameter may point to. */
  target: string[];
  url: string;
  /**
   * Top-level elements the expression starts from; when the resource has none of them the
   * parameter has no value and its FHIRPath need not run (most parameters, on most writes).
   */
  roots?: string[];
  /** For composite parameters: the parts, in order, matched within the same item. */
  components?: CompositePart[];
}

const OFFICIAL = 'http://hl7.org/fhir/SearchParameter/';
const INDEXED = new Set<string>(['token', 'string', 'reference', 'date', 'number', 'quantity', 'uri', 'composite', 'near']);
// Answered from the row's own columns rather than an index of the resource's content.
const FROM_ROW = new Set(['_id', '_lastUpdated']);

// The Resource-level parameters reach the registry without their canonical URL.
const RESOURCE_PARAMETERS = new Set(['_tag', '_profile', '_security', '_source']);

const cache = new Map<string, Map<string, ParameterDefinition>>();

/** Search parameters a server's users defined (SearchParameter resources), by resource type. */
let custom = new Map<string, Map<string, ParameterDefinition>>();
let generation = 0;

/** Replaces the custom parameters; the official ones are untouched. */
export function setCustomParameters(byType: Map<string, Map<string, ParameterDefinition>>): void {
  custom = byType;
  cache.clear();
  generation++;
}

/** Changes whenever the set of parameters changes, so derived documents can be rebuilt. */
export function parameterGeneration(): number {
  return generation;
}

/** The official R4 parameters only (custom ones may not reuse their codes). */
export function officialParameter(resourceType: string, code: string): boolean {
  return officialParameters(resourceType).has(code) || FROM_ROW.has(code);
}

/** Turns a SearchParameter's expression for one type into a definition, or says why it cannot. */
export function parameterDefinition(resourceType: string, parameter: SearchParameter): ParameterDefinition | string {
  if (!parameter.code || !parameter.expression) return 'it needs a code and an expression';
  if (!INDEXED.has(parameter.type) || parameter.type === 'composite') return `type ${parameter.type} is not supported for custom parameters`;
  const expression = getExpressionForResourceType(resourceType, parameter.expression) ?? parameter.expression;
  let parsed: FhirPathAtom;
  try {
    parsed = parseFhirPath(expression);
  } catch (error) {
    return `its expression does not parse: ${(error as Error).message}`;
  }
  return { code: parameter.code, type: parameter.type as IndexedType, expression, parsed, target: parameter.target ?? [], url: parameter.url ?? '', roots: rootsOf(resourceType, expression) };
}

/** The indexed parameters of `resourceType` by code (`_id` and `_lastUpdated` are row columns). */
export function indexedParameters(resourceType: string): Map<string, ParameterDefinition> {
  let found = cache.get(resourceType);
  if (found) return found;
  found = new Map([...officialParameters(resourceType), ...(custom.get(resourceType) ?? [])]);
  cache.set(resourceType, found);
  return found;
}

const officialCache = new Map<string, Map<string, ParameterDefinition>>();

function officialParameters(resourceType: string): Map<string, ParameterDefinition> {
  let found = officialCache.get(resourceType);
  if (found) return found;
  found = new Map();
  for (const [code, parameter] of Object.entries(getSearchParameters(resourceType) ?? {}) as [string, SearchParameter][]) {
    const url = parameter.url ?? (RESOURCE_PARAMETERS.has(code) ? `${OFFICIAL}Resource-${code.slice(1)}` : undefined);
    if (!url?.startsWith(OFFICIAL) || FROM_ROW.has(code) || !parameter.expression) continue;
    const expression = parameter.type === 'composite' ? ownParts(resourceType, parameter.expression) : getExpressionForResourceType(resourceType, parameter.expression);
    if (!expression) continue;
    // The one special parameter of R4 with an expression: Location.near on Location.position.
    const type = parameter.type === 'special' && code === 'near' ? 'near' : parameter.type;
    if (!INDEXED.has(type)) continue;
    const components = parameter.type === 'composite' ? compositeParts(parameter) : undefined;
    if (parameter.type === 'composite' && !components) continue;
    found.set(code, {
      components, code, type: type as IndexedType, expression, parsed: parseFhirPath(expression), target: parameter.target ?? [], url, roots: rootsOf(resourceType, expression) });
  }
  officialCache.set(resourceType, found);
  return found;
}

/** `Observation.code | Observation.value.as(Quantity)` → [code, value]; undefined if unsure. */
function rootsOf(resourceType: string, expression: string): string[] | undefined {
  const parts = expression.split('|').map((part) => part.trim().replace(/^\(+/, ''));
  const roots: string[] = [];
  for (const part of parts) {
    const match = new RegExp(`^${resourceType}\\.([a-zA-Z]+)`).exec(part);
    if (!match) return undefined;
    roots.push(match[1]);
  }
  return roots;
}

/**
 * The names an expression's root may have for `resource` to hold it: each top-level key, and each
 * part of it that ends before a capital (`valueQuantity` holds the root `value`). Made once per
 * resource, then asked once per parameter.
 */
export function rootNames(resource: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  for (const key in resource) {
    names.add(key);
    for (let i = 1; i < key.length; i++) if (key.charCodeAt(i) <= 90) names.add(key.slice(0, i));
  }
  return names;
}

/** Whether a resource whose rootNames are `names` has an element an expression with these roots could start from. */
export function hasRoot(names: Set<string>, roots: string[] | undefined): boolean {
  if (!roots) return true;
  for (const root of roots) if (names.has(root)) return true;
  return false;
}

let typesByUrl: Map<string, string> | undefined;

/** The type of every R4 search parameter, by canonical URL (composites name their parts by URL). */
function typeOfUrl(url: string): string | undefined {
  if (!typesByUrl) {
    typesByUrl = new Map();
    for (const type of resourceTypes()) {
      for (const parameter of Object.values(getSearchParameters(type) ?? {}) as SearchParameter[]) {
        if (parameter.url) typesByUrl.set(parameter.url, parameter.type);
      }
    }
  }
  return typesByUrl.get(url);
}

function compositeParts(parameter: SearchParameter): CompositePart[] | undefined {
  const parts: CompositePart[] = [];
  for (const component of parameter.component ?? []) {
    const type = typeOfUrl(component.definition);
    if (!type || type === 'composite' || !INDEXED.has(type)) return undefined;
    parts.push({ type: type as SimpleType, parsed: parseFhirPath(component.expression) });
  }
  return parts.length >= 2 ? parts : undefined;
}

/** The union members of an expression that start at `resourceType`, the type itself included. */
function ownParts(resourceType: string, expression: string): string | undefined {
  const parts = expression
    .split('|')
    .map((part) => part.trim())
    .filter((part) => part === resourceType || part.startsWith(`${resourceType}.`));
  return parts.length ? parts.join(' | ') : undefined;
}
