// Hostile values for the fuzz suite: strings with NUL, lone surrogates, control characters, odd
// Unicode and great length; ids and search values built from them; and percent-encoding that
// never fails on them (encodeURIComponent throws on a lone surrogate).
import fc from 'fast-check';

export const RESOURCE_TYPES = ['Patient', 'Observation', 'Encounter', 'Practitioner', 'Organization', 'Bundle', 'Binary', 'List', 'SearchParameter', 'Condition', 'MedicationRequest', 'Location'];

/** Strings a careless client or an attacker sends. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('\u0000', 'a\u0000b', '\ud800', '\udc00x', '\ud83d\ude00', '..', '../..', '%', '%00', '%zz', '\\', '\\,', ',', '|', '$', '*', ' ', '\t', '\r\n', '<script>', "'; DROP TABLE \"Patient\"; --", '\u202e', '\ufeff', 'null', '{}', '[]'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('1e300', '-0', 'NaN', 'Infinity', '9'.repeat(40), '0.00000000000000000001', '2024-13-45', '0000-00-00T25:61:61Z', '-271821-04-20T00:00:00Z') },
);

export const id: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('fuzz-1', 'fuzz-2', 'fuzz-obs', 'does-not-exist', '1', 'a.b-c') },
  { weight: 2, arbitrary: oddString },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/) },
  { weight: 1, arbitrary: fc.constantFrom('$everything', '$validate', '_history', '_search', 'x'.repeat(65)) },
);

export const resourceType: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...RESOURCE_TYPES) },
  { weight: 1, arbitrary: fc.constantFrom('patient', 'Nope', 'Resource', 'DomainResource', 'Patient%00', '$everything', '_history', '') },
  { weight: 1, arbitrary: oddString },
);

/** Percent-encodes UTF-8 bytes; lone surrogates become U+FFFD as the bytes a client would send. */
export function encode(text: string, keep = /[A-Za-z0-9\-._~]/): string {
  let out = '';
  for (const char of text) {
    if (keep.test(char)) out += char;
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A base64url `_page` token over any JSON, or one of the shapes the cursors have, with odd values. */
export const pageToken: fc.Arbitrary<string> = fc
  .oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.tuple(fc.constantFrom('after', 'before', 'sideways'), fc.array(fc.oneof(oddString, fc.double(), fc.constant(null)), { maxLength: 4 })),
    fc.tuple(fc.constantFrom('after', 'before'), oddString, fc.constantFrom('Patient', 'Nope'), oddString, fc.oneof(fc.integer(), fc.double())),
    fc.tuple(fc.oneof(fc.integer({ min: -2, max: 200 }), fc.double()), fc.oneof(oddString, fc.constant(null))),
  )
  .map((value) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url'));
