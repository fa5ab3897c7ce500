// Seeded generators of R4 resources for differential tests: valid-looking resources of every type,
// and the same broken in the ways clients break them. A failure names its seed, which shows it again.
import { tryGetDataType, type InternalSchemaElement } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { random } from '../../bench/search-support/generate.js';

const REFERENCES = ['Patient/p1', 'Practitioner/d1', 'Organization/o1', 'Group/g1', 'Location/l1', 'Device/x1', 'http://example.org/fhir/Patient/p2', '#contained', 'urn:uuid:5f3c2a4e-8d1b-4c2e-9a7f-1b2c3d4e5f60', 'Patient?identifier=s|v', 'RelatedPerson/r1', 'Encounter/e1'];

/**
 * Resources of any R4 type with about three quarters of their elements filled, each choice of type,
 * references of every form and now and then a primitive extension; `words` are strings the
 * generated values may take (the literals a test's expressions compare with).
 */
export function resourceGenerator(seed: number, words: string[]): (type: string) => Resource {
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


/** A place in a resource: an object and one of its keys (or an array and an index). */
type Slot = { holder: Record<string, unknown> | unknown[]; key: string | number };

function slotsOf(value: unknown, found: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      found.push({ holder: value, key: index });
      slotsOf(item, found);
    });
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'resourceType') continue;
      found.push({ holder: value as Record<string, unknown>, key });
      slotsOf(item, found);
    }
  }
  return found;
}

/**
 * The ways clients break resources: values of the wrong JSON type, nulls, empty and blank values,
 * malformed dates, ids and codes, an array where one value belongs and one value where an array
 * belongs, extra and misspelt elements, two choices of type at once, required elements left out,
 * mismatched primitive extensions and contained resources of no or an unknown type.
 */
export function resourceBreaker(seed: number): (resource: Resource) => Resource {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const replacements: (() => unknown)[] = [
    () => null,
    () => '',
    () => '   ',
    () => ({}),
    () => [],
    () => [null],
    () => 42.5,
    () => -1,
    () => true,
    () => 'not a date',
    () => '2024-13-45',
    () => 'has spaces  inside',
    () => 'x'.repeat(70),
    () => ({ unexpected: 'object' }),
    () => [[1, 2]],
    () => 'urn:uuid:not-a-uuid',
    () => ({ reference: 'Nonsense/1' }),
    () => ({ resourceType: 'NoSuchType', id: 'x' }),
    () => ({ id: 'no-type' }),
  ];
  const mutations: ((slot: Slot, resource: Record<string, unknown>) => void)[] = [
    // Replace a value.
    (slot) => {
      (slot.holder as Record<string | number, unknown>)[slot.key] = pick(replacements)();
    },
    // One value where an array belongs, or an array where one value belongs.
    (slot) => {
      const holder = slot.holder as Record<string | number, unknown>;
      const value = holder[slot.key];
      holder[slot.key] = Array.isArray(value) ? value[0] : [value, value];
    },
    // Leave a value out (required ones included).
    (slot) => {
      if (Array.isArray(slot.holder)) slot.holder.splice(slot.key as number, 1);
      else delete slot.holder[slot.key as string];
    },
    // An element no type has, or a misspelt one.
    (slot) => {
      if (!Array.isArray(slot.holder)) slot.holder[`${String(slot.key)}X`] = 'extra';
      else (slot.holder as unknown[]).push({ extra: 1 });
    },
    // A second choice of type, or a primitive extension beside the wrong type.
    (_slot, resource) => {
      resource[pick(['valueString', 'valueBoolean', 'effectiveDateTime', 'effectivePeriod', 'onsetString', 'deceasedBoolean', 'multipleBirthInteger'])] = pick([true, 'text', 3, { start: '2024' }]);
      if (next() < 0.5) resource[pick(['_valueString', '_effectiveDateTime', '_deceasedBoolean'])] = { extension: [{ url: 'http://example.org/x', valueCode: 'c' }] };
    },
    // A contained resource of no type, of an unknown type, or of a known type but broken.
    (_slot, resource) => {
      resource.contained = [pick([{ id: 'c1' }, { resourceType: 'Nope', id: 'c2' }, { resourceType: 'Patient', id: 'c3', gender: 12 }, { resourceType: 'Basic', id: 'c4' }])];
    },
  ];
  return (resource) => {
    const broken = structuredClone(resource) as unknown as Record<string, unknown>;
    const count = 1 + Math.floor(next() * 3);
    for (let i = 0; i < count; i++) {
      const slots = slotsOf(broken);
      if (!slots.length) break;
      pick(mutations)(pick(slots), broken);
    }
    return broken as unknown as Resource;
  };
}
