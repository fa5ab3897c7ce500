// FHIR R4 Location `near` (hl7.org/fhir/R4/location.html#positional): `latitude|longitude|distance|units`,
// by great-circle distance from Location.position.
import { column } from '../../../../resources/search/index-values.js';
import { or, type Condition } from '../../../store/search/condition.js';
import { invalidValue } from '../../errors.js';
import { splitBars } from '../search-values.js';
import type { CriterionInput } from './context.js';
import { missingCondition } from './missing.js';
import { unsupportedModifier } from './unsupported.js';

/** Kilometres per unit, UCUM codes as R4 asks, with the plain spellings clients use. */
const KILOMETRES: Record<string, number> = { km: 1, m: 0.001, '[mi_i]': 1.609344, mi: 1.609344 };
/** R4 leaves the distance to the server when the client gives none. */
const DEFAULT_KILOMETRES = 50;

export function nearCondition(input: CriterionInput): Condition {
  const { code } = input.parameter;
  const latitude = input.column(column.latitude(code), 'numeric');
  const longitude = input.column(column.longitude(code), 'numeric');
  if (input.modifier === 'missing') return missingCondition(input, latitude);
  if (input.modifier !== undefined) return unsupportedModifier(input, ['missing']);
  return or(
    input.values.map((value) => {
      const [lat, long, distance, units = 'km', ...rest] = splitBars(value);
      const number = (text: string | undefined) => (text !== undefined && /^[+-]?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN);
      const point = { latitude: number(lat), longitude: number(long) };
      if (rest.length || Number.isNaN(point.latitude) || Number.isNaN(point.longitude) || Math.abs(point.latitude) > 90 || Math.abs(point.longitude) > 180) {
        throw invalidValue(`Search parameter "${input.name}": "${value}" is not latitude|longitude|distance|units`);
      }
      const perUnit = KILOMETRES[units];
      if (perUnit === undefined) throw invalidValue(`Search parameter "${input.name}": unit "${units}" is not one of km, m, [mi_i]`);
      const given = distance === undefined || distance === '' ? undefined : number(distance);
      if (given !== undefined && (Number.isNaN(given) || given < 0)) throw invalidValue(`Search parameter "${input.name}": distance "${distance}" is not a number`);
      const kilometres = given === undefined ? DEFAULT_KILOMETRES : given * perUnit;
      return { kind: 'near', latitude, longitude, point, kilometres };
    }),
  );
}
