// Small valid values of the R4 datatypes (hl7.org/fhir/R4/datatypes.html) for fixtures: primitives
// that match their regular expressions, and complex types that keep their own invariants.

export type Json = Record<string, unknown>;

const UCUM = 'http://unitsofmeasure.org';
const WHEN = '2024-01-15T10:00:00Z';

/** A value of a primitive type, or undefined if `code` is not one. */
export function primitiveValue(code: string): unknown {
  switch (code) {
    case 'boolean':
      return true;
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
    case 'decimal':
      return 1;
    case 'string':
    case 'markdown':
    case 'code':
    case 'id':
      return 'isolation';
    case 'uri':
    case 'url':
    case 'canonical':
      return 'http://example.org/isolation';
    case 'oid':
      return 'urn:oid:2.16.840.1.113883.3.1';
    case 'uuid':
      return 'urn:uuid:5f3c2a4e-8d1b-4c2e-9a7f-1b2c3d4e5f60';
    case 'date':
      return '2024-01-15';
    case 'dateTime':
    case 'instant':
      return WHEN;
    case 'time':
      return '10:00:00';
    case 'base64Binary':
      return Buffer.from('isolation').toString('base64');
    default:
      return undefined;
  }
}

const quantity = (value: number, code: string) => ({ value, unit: code, system: UCUM, code });

/**
 * Complex types whose schema-driven fill would break an invariant or say nothing: Age/Duration
 * need a UCUM time code (age-1, drt-1), Count an integer with code 1 (cnt-3), Attachment a
 * contentType with its data (att-1), Timing something to happen.
 */
const COMPLEX_VALUES: Readonly<Record<string, () => unknown>> = {
  Quantity: () => quantity(1, 'mg'),
  SimpleQuantity: () => quantity(1, 'mg'),
  MoneyQuantity: () => ({ value: 1, unit: 'USD', system: 'urn:iso:std:iso:4217', code: 'USD' }),
  Age: () => quantity(30, 'a'),
  Duration: () => quantity(1, 'd'),
  Distance: () => quantity(1, 'm'),
  Count: () => ({ value: 1, system: UCUM, code: '1' }),
  Money: () => ({ value: 1, currency: 'USD' }),
  Range: () => ({ low: quantity(1, 'mg'), high: quantity(2, 'mg') }),
  Ratio: () => ({ numerator: quantity(1, 'mg'), denominator: quantity(1, 'mL') }),
  Period: () => ({ start: WHEN }),
  Timing: () => ({ event: [WHEN] }),
  Identifier: () => ({ system: 'http://example.org/isolation', value: 'isolation' }),
  HumanName: () => ({ family: 'Isolation' }),
  CodeableConcept: () => ({ text: 'isolation' }),
  Coding: () => ({ system: 'http://example.org/isolation', code: 'isolation' }),
  Attachment: () => ({ contentType: 'text/plain', data: Buffer.from('isolation').toString('base64') }),
  Expression: () => ({ language: 'text/fhirpath', expression: 'true' }),
};

/** A value of a complex type that needs more than its required elements, or undefined. */
export function complexValue(code: string): unknown {
  return COMPLEX_VALUES[code]?.();
}
