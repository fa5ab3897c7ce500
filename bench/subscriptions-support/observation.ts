// The Observations of `npm run bench:subscriptions`. Observation `index` is about Patient
// `index % patients` with code `⌊index / patients⌋ % codes`, so the benchmark knows which
// subscriptions each one matches.

const CATEGORY_VITAL = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] };

export function observationBody(patients: string[], codes: string[], index: number, runTag: string): string {
  const patient = patients[index % patients.length];
  const code = codes[Math.floor(index / patients.length) % codes.length];
  return JSON.stringify({
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: 'urn:kiln:bench:subscriptions', value: `${runTag}-${index}` }],
    category: [CATEGORY_VITAL],
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: '2024-05-01T08:30:00Z',
    valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  });
}
