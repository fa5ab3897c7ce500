import type { MolecularSequence } from '@medplum/fhirtypes';
import { loadValidation } from '../validate.js';
import { indexValues } from './index-values.js';

beforeAll(() => {
  loadValidation();
});

test('a composite whose parts start from %resource is indexed (MolecularSequence chromosome-variant-coordinate)', () => {
  const sequence: MolecularSequence = {
    resourceType: 'MolecularSequence',
    coordinateSystem: 0,
    referenceSeq: { chromosome: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/chromosome-human', code: '1' }] } },
    variant: [{ start: 22125500, end: 22125510 }],
  };
  const row = indexValues(sequence);
  const items = JSON.parse(row['chromosome-variant-coordinate'] as string) as Record<string, unknown>[];
  expect(items).toHaveLength(1);
  expect(items[0]['0']).toEqual(expect.arrayContaining(['http://terminology.hl7.org/CodeSystem/chromosome-human|1']));
  expect(items[0]['1:lo']).toBeLessThanOrEqual(22125500);
  expect(items[0]['1:hi']).toBeGreaterThanOrEqual(22125500);
});
