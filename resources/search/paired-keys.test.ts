import { loadDefinitions } from '../definitions.js';
import { OVERFLOW_PAIR, pairedColumns, pairedValues, pairKey } from './paired-keys.js';

beforeAll(() => {
  loadDefinitions();
});

test('types with a code and a subject or patient have one paired column; others none', () => {
  expect(pairedColumns('Observation')).toEqual([{ name: 'code:subject', references: ['subject', 'patient'], token: 'code' }]);
  expect(pairedColumns('AllergyIntolerance')).toEqual([{ name: 'code:patient', references: ['patient'], token: 'code' }]);
  expect(pairedColumns('Patient')).toEqual([]);
});

test('a row pairs every reference key of subject and patient with every code key', () => {
  const [paired] = pairedColumns('Observation');
  const row = { subject: ['Patient/1', '\u00011'], patient: ['Patient/1'], code: ['http://loinc.org|8867-4', '\u00018867-4'] };
  expect(pairedValues(paired, row)?.sort()).toEqual(
    [pairKey('Patient/1', 'http://loinc.org|8867-4'), pairKey('Patient/1', '\u00018867-4'), pairKey('\u00011', 'http://loinc.org|8867-4'), pairKey('\u00011', '\u00018867-4')].sort(),
  );
  expect(pairedValues(paired, { subject: ['Patient/1'], code: null })).toBeNull();
});

test('a row with too many pairs stores the overflow key alone', () => {
  const [paired] = pairedColumns('Observation');
  const code = Array.from({ length: 300 }, (_, i) => `c${i}`);
  expect(pairedValues(paired, { subject: ['Patient/1'], code })).toEqual([OVERFLOW_PAIR]);
});
