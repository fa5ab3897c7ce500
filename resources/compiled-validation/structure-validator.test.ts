// The compiled validator against its oracle, @medplum/core's R4 validator: over real Synthea
// records, seeded generated resources of every type, and the same broken in the ways clients break
// them, both must report the same issues (severity, code, message and path, in the same order) or
// fail in the same way. A failure names the seed (KILN_FUZZ_SEED) that shows it again.
import { getDataType } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceBreaker, resourceGenerator } from '../../test/support/generated-resources.js';
import { sharedData } from '../../test/support/shared-data.js';
import { resourceTypes } from '../definitions.js';
import { loadValidation } from '../validate.js';
import { interpretedStructuralIssues, structuralIssues } from './structure-validator.js';
import { typePlan } from './type-plan.js';

beforeAll(() => {
  loadValidation();
});

const SEED = Number(process.env.KILN_FUZZ_SEED ?? 20261202);

/** What a validator makes of a resource: its issues, or what it threw. Each gets its own copy (the oracle may touch it). */
function verdict(validate: (r: Resource) => unknown, resource: Resource): string {
  try {
    return JSON.stringify(validate(structuredClone(resource)));
  } catch (error) {
    return `threw ${(error as Error).message}`;
  }
}

interface Tally {
  resources: number;
  withErrors: number;
  mismatches: string[];
}

function compare(resources: Iterable<Resource>): Tally {
  const tally: Tally = { resources: 0, withErrors: 0, mismatches: [] };
  for (const resource of resources) {
    tally.resources++;
    const expected = verdict(interpretedStructuralIssues, resource);
    const actual = verdict(structuralIssues, resource);
    if (expected.includes('"severity":"error"') || expected.startsWith('threw')) tally.withErrors++;
    if (actual !== expected) tally.mismatches.push(`${JSON.stringify(resource).slice(0, 400)}\n  compiled:    ${actual.slice(0, 600)}\n  interpreted: ${expected.slice(0, 600)}`);
  }
  return tally;
}

function* generated(rounds: number, seed: number): Generator<Resource> {
  const generate = resourceGenerator(seed, []);
  for (let round = 0; round < rounds; round++) for (const type of resourceTypes()) yield generate(type);
}

function* broken(rounds: number, seed: number): Generator<Resource> {
  const breakIt = resourceBreaker(seed);
  for (const resource of generated(rounds, seed)) yield breakIt(resource);
}

test('every R4 base type is validated from its plan, none by the interpreter', () => {
  const types = resourceTypes();
  expect(types.length).toBeGreaterThan(140);
  expect(types.filter((type) => typePlan(getDataType(type)).needsInterpreter)).toEqual([]);
});

test('the Synthea records get the same issues from both', () => {
  const synthea = sharedData('synthea-r4');
  const files = readdirSync(synthea).filter((name) => name.endsWith('.json')).slice(0, 6);
  const resources = files.flatMap((file) => ((JSON.parse(readFileSync(join(synthea, file), 'utf8')) as Bundle).entry ?? []).map((e) => e.resource as Resource));
  const tally = compare(resources);
  expect(tally.resources).toBeGreaterThan(1000);
  expect(tally.mismatches.slice(0, 5)).toEqual([]);
});

test('generated resources of every type get the same issues from both', () => {
  const tally = compare(generated(4, SEED));
  expect(tally.resources).toBeGreaterThan(500);
  // The generator fills elements without regard to invariants: many break one, which both must see.
  expect(tally.withErrors).toBeGreaterThan(100);
  expect({ seed: SEED, mismatches: tally.mismatches.slice(0, 5) }).toEqual({ seed: SEED, mismatches: [] });
});

test('broken resources of every type get the same issues from both', () => {
  const tally = compare(broken(12, SEED + 1));
  expect(tally.resources).toBeGreaterThan(1500);
  expect(tally.withErrors / tally.resources).toBeGreaterThan(0.5);
  expect({ seed: SEED + 1, mismatches: tally.mismatches.slice(0, 5) }).toEqual({ seed: SEED + 1, mismatches: [] });
});

test('hand-made shapes the generators rarely make get the same issues from both', () => {
  const shapes = [
    { resourceType: 'Patient', name: 'not an array' },
    { resourceType: 'Patient', name: [{ family: 'a' }], _birthDate: { extension: [{ url: 'http://x', valueString: 'y' }] } },
    { resourceType: 'Patient', birthDate: '2000-01-01', _birthDate: { id: 'b' }, gender: 'other', _gender: [{}] },
    { resourceType: 'Patient', link: [{ other: 'Patient/1' }] },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'a', valueQuantity: { value: 1 } },
    { resourceType: 'Observation', status: 'final', code: 'text instead of an object', valueFoo: 1 },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, _valueString: { extension: [] }, valueBoolean: true },
    { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Medication/1' } },
    { resourceType: 'Patient', contained: [{ resourceType: 'Patient', contained: [{ resourceType: 'Basic', code: { text: 'x' } }] }] },
    { resourceType: 'Patient', identifier: [null, { value: 'x' }], _identifier: [null, null] },
    { resourceType: 'Patient', name: [{ given: ['a', null], _given: [null, { extension: [{ url: 'http://x', valueString: 'y' }] }] }] },
    { resourceType: 'Patient', multipleBirthInteger: 1.5, deceasedBoolean: 'yes', photo: [{ size: -3 }] },
    { resourceType: 'Patient', extension: [{ url: 'http://x' }, { url: 'http://y', valueString: 'a', extension: [{ url: 'z', valueCode: 'c' }] }] },
    { resourceType: 'Questionnaire', status: 'draft', item: [{ linkId: '1', type: 'group', item: [{ linkId: '1.1', type: 'string', enableWhen: [{ question: '1', operator: '=' }] }] }] },
    { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', gender: 5 } }, { resource: { id: 'x' } }] },
    { resourceType: 'Parameters', parameter: [{ name: 'p', resource: { resourceType: 'Patient', active: 'true' } }, { name: 'q', valueString: 'a', part: [{ name: 'r' }] }] },
  ] as unknown as Resource[];
  const tally = compare(shapes);
  expect(tally.withErrors).toBeGreaterThan(8);
  expect(tally.mismatches).toEqual([]);
});
