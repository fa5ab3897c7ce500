// The compiled search expressions against the FHIRPath interpreter, the oracle: for every search
// parameter of every R4 type (and every part of a composite), both must give the same values, in
// the same order, over real Synthea records and over seeded generated resources that fill every
// element the expressions read, with each choice of type, references of every form, primitive
// extensions and the literals the `where(…)` tests compare with.
import { evalFhirPathTyped, LiteralAtom, toTypedValue, tryGetDataType, type FhirPathAtom, type InternalSchemaElement } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceTypes } from '../definitions.js';
import { sharedData } from '../../test/support/shared-data.js';
import { loadValidation } from '../validate.js';
import { compileExpression } from './compiled-expression.js';
import { indexValues, interpretedIndexValues } from './index-values.js';
import { indexedParameters, type ParameterDefinition } from './parameters.js';

beforeAll(() => {
  loadValidation();
});

/** A small seeded generator, so that a failure names a seed that shows it again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every string literal the parameters' expressions compare with (`where(system = 'phone')`). */
function literals(atom: unknown, found: Set<string>): Set<string> {
  if (atom instanceof LiteralAtom && typeof atom.value.value === 'string') found.add(atom.value.value);
  if (atom && typeof atom === 'object') for (const value of Object.values(atom)) if (value && typeof value === 'object') literals(value, found);
  return found;
}

const REFERENCES = ['Patient/p1', 'Practitioner/d1', 'Organization/o1', 'Group/g1', 'Location/l1', 'Device/x1', 'http://example.org/fhir/Patient/p2', '#contained', 'urn:uuid:5f3c2a4e-8d1b-4c2e-9a7f-1b2c3d4e5f60', 'Patient?identifier=s|v', 'RelatedPerson/r1', 'Encounter/e1'];

function generator(seed: number, words: string[]) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const primitive = (code: string): unknown => {
    switch (code) {
      case 'boolean':
        return next() < 0.5;
      case 'integer':
      case 'positiveInt':
      case 'unsignedInt':
        return Math.floor(next() * 100);
      case 'decimal':
        return Math.round(next() * 10_000) / 100;
      case 'date':
        return pick(['2024', '2024-02', '2024-02-29', '1999-12-31']);
      case 'dateTime':
      case 'instant':
        return pick(['2024-01-15T10:00:00Z', '2024-03-31T23:30:00+02:00', '2024-06', '2023-11-05T01:30:00.123-04:00']);
      case 'time':
        return pick(['10:00:00', '23:59:59.5']);
      case 'uri':
      case 'url':
      case 'canonical':
        return pick(['http://example.org/a', 'http://loinc.org', 'urn:oid:1.2.3', ...words]);
      default:
        return pick(['alpha', 'Beta Gamma', 'Ünïcode', '', ...words]);
    }
  };
  const fill = (type: string, depth: number): unknown => {
    if (type === 'Reference') {
      const reference: Record<string, unknown> = {};
      if (next() < 0.85) reference.reference = pick(REFERENCES);
      if (next() < 0.3) reference.identifier = { system: pick(words), value: 'v' };
      if (next() < 0.3) reference.type = pick(['Patient', 'Practitioner']);
      if (next() < 0.2) reference.display = 'shown';
      return reference;
    }
    const schema = tryGetDataType(type);
    if (!schema || depth > 4) return primitive(type);
    if (/^[a-z]/.test(type)) return primitive(type);
    const value: Record<string, unknown> = {};
    for (const [key, element] of Object.entries(schema.elements) as [string, InternalSchemaElement][]) {
      if (key === 'id' || key === 'extension' || key === 'modifierExtension' || key === 'contained' || next() < 0.25) continue;
      const chosen = pick(element.type);
      const name = key.endsWith('[x]') ? key.slice(0, -3) + chosen.code[0].toUpperCase() + chosen.code.slice(1) : key;
      // A backbone element's type is named by the schema (ObservationComponent).
      const one = () => fill(chosen.code, depth + 1);
      const item = (element.isArray || element.max > 1) ? Array.from({ length: 1 + Math.floor(next() * 3) }, one) : one();
      value[name] = item;
      // Now and then a primitive carries an extension too, or has one instead of a value.
      if (/^[a-z]/.test(chosen.code) && next() < 0.1) {
        const extension = { extension: [{ url: 'http://example.org/x', valueString: 'e' }] };
        value[`_${name}`] = Array.isArray(item) ? item.map(() => extension) : extension;
        if (next() < 0.3) delete value[name];
      }
    }
    return value;
  };
  return (type: string): Resource => ({ ...(fill(type, 0) as object), resourceType: type }) as Resource;
}

/** Each expression a parameter runs: its own, and for a composite each part on each of its items. */
function expressions(parameter: ParameterDefinition): FhirPathAtom[] {
  return [parameter.parsed, ...(parameter.components ?? []).map((part) => part.parsed)];
}

function compare(resource: Resource, mismatches: string[], counts: { compiled: number; checked: number }): void {
  // The row a write stores, whole…
  const row = JSON.stringify(indexValues(resource));
  if (row !== JSON.stringify(interpretedIndexValues(resource))) mismatches.push(`${resource.resourceType}: the search columns differ`);
  // …and each expression's values, which say where.
  const root = [toTypedValue(resource)];
  for (const parameter of indexedParameters(resource.resourceType).values()) {
    const compiled = compileExpression(parameter.parsed);
    if (!compiled) continue;
    const interpreted = evalFhirPathTyped(parameter.parsed, root);
    const actual = compiled(root);
    counts.checked++;
    if (JSON.stringify(actual) !== JSON.stringify(interpreted)) mismatches.push(`${resource.resourceType}.${parameter.code} (${parameter.expression}): ${JSON.stringify(actual)} ≠ ${JSON.stringify(interpreted)}`);
    for (const part of parameter.components ?? []) {
      const compiledPart = compileExpression(part.parsed);
      if (!compiledPart) continue;
      for (const item of interpreted) {
        const expected = evalFhirPathTyped(part.parsed, [item]);
        if (JSON.stringify(compiledPart([item])) !== JSON.stringify(expected)) mismatches.push(`${resource.resourceType}.${parameter.code} part ${part.parsed.original}`);
      }
    }
  }
}

test('nearly every R4 search parameter compiles; the rest keep the interpreter', () => {
  let all = 0;
  let compiled = 0;
  for (const type of resourceTypes()) {
    for (const parameter of indexedParameters(type).values()) {
      for (const parsed of expressions(parameter)) {
        all++;
        if (compileExpression(parsed)) compiled++;
      }
    }
  }
  expect(all).toBeGreaterThan(2000);
  expect(compiled / all).toBeGreaterThan(0.98);
  // An expression outside the compiled shapes is left to the interpreter.
  const [parameter] = [...indexedParameters('Patient').values()];
  expect(compileExpression({ ...parameter.parsed, child: { name: '%resource' } } as unknown as FhirPathAtom)).toBeUndefined();
});

test('compiled and interpreted expressions agree on the Synthea records', () => {
  // Beside the repository, or beside the one a clone was made from (test/support/shared-data.ts).
  const synthea = sharedData('synthea-r4');
  const files = readdirSync(synthea).filter((name) => name.endsWith('.json')).slice(0, 4);
  expect(files.length).toBeGreaterThan(0);
  const mismatches: string[] = [];
  const counts = { compiled: 0, checked: 0 };
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(join(synthea, file), 'utf8')) as Bundle;
    for (const entry of bundle.entry ?? []) compare(entry.resource as Resource, mismatches, counts);
  }
  expect(counts.checked).toBeGreaterThan(1000);
  expect(mismatches.slice(0, 10)).toEqual([]);
});

test('compiled and interpreted expressions agree on generated resources of every type', () => {
  const words = new Set<string>();
  for (const type of resourceTypes()) for (const parameter of indexedParameters(type).values()) for (const parsed of expressions(parameter)) literals(parsed, words);
  const seed = Number(process.env.KILN_FUZZ_SEED ?? 20261202);
  const generate = generator(seed, [...words]);
  const mismatches: string[] = [];
  const counts = { compiled: 0, checked: 0 };
  for (let round = 0; round < 6; round++) for (const type of resourceTypes()) compare(generate(type), mismatches, counts);
  expect(counts.checked).toBeGreaterThan(10_000);
  expect({ seed, mismatches: mismatches.slice(0, 10) }).toEqual({ seed, mismatches: [] });
});
