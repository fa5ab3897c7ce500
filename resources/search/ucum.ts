// UCUM canonical units for quantity search (hl7.org/fhir/R4/search.html#quantity): a quantity
// in mg and a search in g compare once both are in base units. Conversion is @lhncbc/ucum-lhc's.
import ucum from '@lhncbc/ucum-lhc';

export const UCUM = 'http://unitsofmeasure.org';

interface Canonical {
  /** Base-unit magnitude of one of the unit. */
  factor: number;
  /** The base units with exponents, e.g. `g1` or `g1.m-1.s-2`. */
  unit: string;
}

const utils = ucum.UcumLhcUtils.getInstance();
const cache = new Map<string, Canonical | null>();

/** Linear units only: special ones (Cel, [degF]) have an offset and are compared as written. */
export function canonicalUnit(code: string): Canonical | undefined {
  if (!cache.has(code)) {
    const result = utils.convertToBaseUnits(code, 1) as { status: string; magnitude?: number; unitToExp?: Record<string, number>; fromUnitIsSpecial?: boolean };
    const usable = result.status === 'succeeded' && !result.fromUnitIsSpecial && typeof result.magnitude === 'number' && result.unitToExp;
    cache.set(
      code,
      usable
        ? {
            factor: result.magnitude as number,
            unit: Object.entries(result.unitToExp as Record<string, number>)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([name, exponent]) => `${name}${exponent}`)
              .join('.'),
          }
        : null,
    );
  }
  return cache.get(code) ?? undefined;
}
