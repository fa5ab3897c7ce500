// FHIR R4 §4.9 ValueSet (hl7.org/fhir/R4/valueset.html#compose): compose rules on small, made-up
// definitions, covering the parts the R4 required bindings themselves do not exercise.
import type { CodeSystem, ValueSet, ValueSetCompose, ValueSetComposeIncludeFilter } from '@medplum/fhirtypes';
import { ValueSetExpander, type ExpansionResult } from './value-set-expansion.js';

const SHAPES = 'http://example.org/CodeSystem/shapes';
const COLOURS = 'http://example.org/CodeSystem/colours';

/** shape ⊃ polygon ⊃ {triangle, square}, shape ⊃ round ⊃ circle; `child` adds round ⊃ oval as v3 does. */
const shapes: CodeSystem = {
  resourceType: 'CodeSystem',
  url: SHAPES,
  valueSet: 'http://example.org/ValueSet/all-shapes',
  status: 'active',
  content: 'complete',
  concept: [
    {
      code: 'shape',
      concept: [
        {
          code: 'polygon',
          property: [{ code: 'sides', valueString: 'many' }],
          concept: [
            { code: 'triangle', property: [{ code: 'sides', valueString: '3' }] },
            { code: 'square', property: [{ code: 'sides', valueString: '4' }] },
          ],
        },
        { code: 'round', property: [{ code: 'child', valueCode: 'oval' }], concept: [{ code: 'circle' }] },
      ],
    },
    { code: 'oval' },
  ],
};

const colours: CodeSystem = {
  resourceType: 'CodeSystem',
  url: COLOURS,
  status: 'active',
  content: 'complete',
  concept: [{ code: 'red' }, { code: 'green' }],
};

function valueSet(url: string, compose: ValueSetCompose, version?: string): ValueSet {
  return { resourceType: 'ValueSet', url, status: 'active', compose, ...(version ? { version } : {}) };
}

function expander(valueSets: ValueSet[], codeSystems: CodeSystem[] = [shapes, colours]): ValueSetExpander {
  return new ValueSetExpander(
    new Map(valueSets.map((vs) => [vs.url as string, vs])),
    new Map(codeSystems.map((cs) => [cs.url as string, cs])),
  );
}

/** `system|code` for every member, sorted, or the reason there is no expansion. */
function members(result: ExpansionResult): string[] | string {
  if (!result.ok) return result.reason;
  return [...result.codes].flatMap(([system, codes]) => [...codes].map((code) => `${system}|${code}`)).sort();
}

function expandOne(compose: ValueSetCompose, codeSystems?: CodeSystem[]): string[] | string {
  const url = 'http://example.org/ValueSet/vs';
  return members(expander([valueSet(url, compose)], codeSystems).expand(url));
}

function shapeCodes(...codes: string[]): string[] {
  return codes.map((code) => `${SHAPES}|${code}`).sort();
}

describe('ValueSetExpander', () => {
  it('includes every code of a system, nested concepts too', () => {
    expect(expandOne({ include: [{ system: SHAPES }] })).toEqual(
      shapeCodes('shape', 'polygon', 'triangle', 'square', 'round', 'circle', 'oval'),
    );
  });

  it('includes an enumerated list as it is, even from a system it does not know', () => {
    expect(expandOne({ include: [{ system: 'urn:ietf:bcp:13', concept: [{ code: 'text/plain' }] }] })).toEqual([
      'urn:ietf:bcp:13|text/plain',
    ]);
  });

  it('applies hierarchy filters along nesting and `child` properties', () => {
    const filtered = (op: ValueSetComposeIncludeFilter['op'], value: string) =>
      expandOne({ include: [{ system: SHAPES, filter: [{ property: 'concept', op, value }] }] });
    expect(filtered('is-a', 'polygon')).toEqual(shapeCodes('polygon', 'triangle', 'square'));
    expect(filtered('descendent-of', 'round')).toEqual(shapeCodes('circle', 'oval'));
    expect(filtered('is-not-a', 'polygon')).toEqual(shapeCodes('shape', 'round', 'circle', 'oval'));
    expect(filtered('is-a', 'hexagon')).toEqual([]);
    expect(filtered('generalizes', 'circle')).toBe('unsupported-filter');
  });

  it('applies property and regex filters, all of them at once', () => {
    expect(
      expandOne({
        include: [
          {
            system: SHAPES,
            filter: [
              { property: 'concept', op: 'is-a', value: 'polygon' },
              { property: 'sides', op: 'regex', value: '[0-9]+' },
            ],
          },
        ],
      }),
    ).toEqual(shapeCodes('triangle', 'square'));
    expect(expandOne({ include: [{ system: SHAPES, filter: [{ property: 'sides', op: '=', value: '4' }] }] })).toEqual(
      shapeCodes('square'),
    );
    expect(expandOne({ include: [{ system: SHAPES, filter: [{ property: 'colour', op: '=', value: 'red' }] }] })).toBe(
      'unsupported-filter',
    );
  });

  it('imports value sets, intersecting them with the system part of the same include', () => {
    const polygons = valueSet('http://example.org/ValueSet/polygons', {
      include: [{ system: SHAPES, filter: [{ property: 'concept', op: 'is-a', value: 'polygon' }] }],
    });
    const squares = valueSet('http://example.org/ValueSet/squares', {
      include: [{ system: SHAPES, concept: [{ code: 'square' }, { code: 'circle' }] }],
    });
    const both = valueSet('http://example.org/ValueSet/both', {
      include: [{ valueSet: [polygons.url as string, squares.url as string] }, { system: COLOURS }],
    });
    expect(members(expander([polygons, squares, both]).expand(both.url as string))).toEqual(
      [...shapeCodes('square'), `${COLOURS}|green`, `${COLOURS}|red`].sort(),
    );
  });

  it('removes excluded codes', () => {
    expect(
      expandOne({
        include: [{ system: SHAPES, filter: [{ property: 'concept', op: 'is-a', value: 'round' }] }],
        exclude: [{ system: SHAPES, concept: [{ code: 'oval' }] }],
      }),
    ).toEqual(shapeCodes('round', 'circle'));
  });

  it("expands a code system's implicit value set", () => {
    expect(members(expander([]).expand('http://example.org/ValueSet/all-shapes|4.0.1'))).toHaveLength(7);
  });

  it('strips a matching version and refuses another one', () => {
    const compose = { include: [{ system: COLOURS, concept: [{ code: 'red' }] }] };
    const versioned = valueSet('http://example.org/ValueSet/red', compose, '4.0.1');
    expect(members(expander([versioned]).expand('http://example.org/ValueSet/red|4.0.1'))).toEqual([`${COLOURS}|red`]);
    expect(members(expander([versioned]).expand('http://example.org/ValueSet/red|5.0.0'))).toBe('version-mismatch');
  });

  it('refuses what it cannot list completely', () => {
    expect(expandOne({ include: [{ system: 'urn:ietf:bcp:47' }] })).toBe('unknown-code-system');
    expect(expandOne({ include: [{ system: SHAPES }] }, [{ ...shapes, content: 'fragment' }])).toBe(
      'code-system-not-enumerable',
    );
    expect(expandOne({ include: [{ system: SHAPES }] }, [{ ...shapes, caseSensitive: false }])).toBe(
      'code-system-not-enumerable',
    );
    expect(members(expander([]).expand('http://example.org/ValueSet/missing'))).toBe('unknown-value-set');
  });

  it('refuses core value sets from another FHIR release', () => {
    const r5 = valueSet('http://hl7.org/fhir/ValueSet/r5-only', { include: [{ system: COLOURS }] }, '5.0.0');
    expect(members(expander([r5]).expand(r5.url as string))).toBe('not-r4-content');
  });

  it('survives value sets that import each other', () => {
    const a = valueSet('http://example.org/ValueSet/a', { include: [{ valueSet: ['http://example.org/ValueSet/b'] }] });
    const b = valueSet('http://example.org/ValueSet/b', { include: [{ valueSet: ['http://example.org/ValueSet/a'] }] });
    expect(members(expander([a, b]).expand(a.url as string))).toBe('recursive-import');
  });
});
