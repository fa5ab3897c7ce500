// FHIR R4 §3.1.1.5.13 string search (hl7.org/fhir/R4/search.html#string): the parts of a value a
// string parameter matches, and the normal form used for case- and accent-insensitive search.
import type { TypedValue } from '@medplum/core';

/** Lower case, accents removed, runs of white space as one space. */
export function normalizeString(value: string): string {
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

const NAME_PARTS = ['text', 'family', 'given', 'prefix', 'suffix'];
const ADDRESS_PARTS = ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country'];

/** Each string a HumanName, Address or plain string contributes (a name matches on any part). */
export function stringParts(values: TypedValue[]): string[] {
  const parts: string[] = [];
  const add = (v: unknown) => {
    if (typeof v === 'string' && v) parts.push(v);
    else if (Array.isArray(v)) v.forEach(add);
  };
  for (const { type, value } of values) {
    if (value === null || value === undefined) continue;
    if (type === 'HumanName') NAME_PARTS.forEach((key) => add(value[key]));
    else if (type === 'Address') ADDRESS_PARTS.forEach((key) => add(value[key]));
    else if (typeof value === 'string') add(value);
    else if (typeof value === 'object' && typeof value.text === 'string') add(value.text);
  }
  return parts;
}
