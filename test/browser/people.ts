// The patients the sign-in page tests pick from, with names unique to one run: on a shared
// Postgres other test files' patients must not change the counts a test expects.
import type { Patient } from '@medplum/fhirtypes';
import { create } from '../../server/fhir/interactions/create.js';
import type { TestServer } from '../support/test-server.js';

/** A family-name stem no other run shares, letters only, so that a name search finds it. */
export function uniqueFamilyStem(): string {
  const letters = Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
  return `Vel${letters}`;
}

export async function storePatient(kiln: TestServer, patient: Omit<Patient, 'resourceType'>): Promise<string> {
  return (await create(kiln.ctx, { resourceType: 'Patient', ...patient })).id;
}

/** Given names, with a birth date each as stored and as the pages write it. */
const PEOPLE: readonly (readonly [string, string, string])[] = [
  ['Ada', '1941-01-02', '2 January 1941'],
  ['Ben', '1952-02-13', '13 February 1952'],
  ['Cleo', '1963-03-24', '24 March 1963'],
  ['Dan', '1974-04-05', '5 April 1974'],
  ['Eve', '1985-05-16', '16 May 1985'],
  ['Finn', '1996-06-27', '27 June 1996'],
  ['Gus', '2007-07-08', '8 July 2007'],
  ['Hal', '1948-08-19', '19 August 1948'],
  ['Ida', '1959-09-30', '30 September 1959'],
  ['Jo', '1960-10', 'October 1960'],
  ['Kai', '1971-11-11', '11 November 1971'],
  ['Lea', '1982', '1982'],
  ['Max', '1993-12-31', '31 December 1993'],
];

/**
 * Stores 25 patients of two families, `${stem}a` (13) and `${stem}b` (12), out of order: the
 * "…b" family first and each family's given names backwards, so that neither the order of storing
 * nor that of ids is the order shown. Answers how the picker must list them: family name first,
 * with the birth date, sorted by family then given name.
 */
export async function storePickablePatients(kiln: TestServer, stem: string): Promise<string[]> {
  const families = [
    [`${stem}b`, PEOPLE.slice(0, 12)],
    [`${stem}a`, PEOPLE],
  ] as const;
  for (const [family, people] of families) {
    for (const [given, birthDate] of [...people].reverse()) await storePatient(kiln, { name: [{ family, given: [given] }], birthDate });
  }
  return [...families].reverse().flatMap(([family, people]) => people.map(([given, , born]) => `${family}, ${given} — born ${born}`));
}
