// The Observation every benchmark writes: a heart rate in the vital-signs category, the same for
// the FHIR API and for the raw SQL baseline, with an identifier that differs on every row.

/** Marks where the identifier value goes; it never occurs in the rest of the JSON. */
const SLOT = '\u0000identifier\u0000';

export function heartRateObservation(patientId: string, identifierValue: string): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    status: 'final',
    identifier: [{ system: 'urn:kiln:bench:observation', value: identifierValue }],
    category: [
      {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' },
        ],
        text: 'Vital Signs',
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Heart rate' },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: '2024-05-01T08:30:00Z',
    valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  };
}

/**
 * The JSON text of the Observation split around the identifier value, so that each request costs
 * one string concatenation: `head + value + tail`.
 */
export function observationTemplate(patientId: string, extra: Record<string, unknown> = {}): { head: string; tail: string } {
  const text = JSON.stringify({ ...extra, ...heartRateObservation(patientId, SLOT) });
  const slot = JSON.stringify(SLOT).slice(1, -1);
  const at = text.indexOf(slot);
  return { head: text.slice(0, at), tail: text.slice(at + slot.length) };
}

/** Identifier values unique across processes and runs: a random prefix and a counter. */
export function identifierSequence(): () => string {
  const prefix = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let n = 0;
  return () => `${prefix}-${++n}`;
}
