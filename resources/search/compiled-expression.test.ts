// The compiled search expressions against the FHIRPath interpreter, the oracle: for every search
// parameter of every R4 type (and every part of a composite), both must give the same values, in
// the same order, over real Synthea records and over seeded generated resources that fill every
// element the expressions read, with each choice of type, references of every form, primitive
// extensions and the literals the `where(…)` tests compare with.
import { evalFhirPathTyped, LiteralAtom, toTypedValue, type FhirPathAtom } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceTypes } from '../definitions.js';
import { resourceGenerator } from '../../test/support/generated-resources.js';
import { sharedData } from '../../test/support/shared-data.js';
import { loadValidation } from '../validate.js';
import { compileExpression } from './compiled-expression.js';
import { indexValues, interpretedIndexValues } from './index-values.js';
import { indexedParameters, type ParameterDefinition } from './parameters.js';

beforeAll(() => {
  loadValidation();
});

/** Every string literal the parameters' expressions compare with (`where(system = 'phone')`). */
function literals(atom: unknown, found: Set<string>): Set<string> {
  if (atom instanceof LiteralAtom && typeof atom.value.value === 'string') found.add(atom.value.value);
  if (atom && typeof atom === 'object') for (const value of Object.values(atom)) if (value && typeof value === 'object') literals(value, found);
  return found;
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
  const generate = resourceGenerator(seed, [...words]);
  const mismatches: string[] = [];
  const counts = { compiled: 0, checked: 0 };
  for (let round = 0; round < 6; round++) for (const type of resourceTypes()) compare(generate(type), mismatches, counts);
  expect(counts.checked).toBeGreaterThan(10_000);
  expect({ seed, mismatches: mismatches.slice(0, 10) }).toEqual({ seed, mismatches: [] });
});
