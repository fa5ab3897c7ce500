// FHIR R4 §2.24.0.1 date, dateTime and instant (hl7.org/fhir/R4/datatypes.html#dateTime): a value
// stands for the whole interval its precision implies (2020 = all of 2020).
const DATE_TIME =
  /^([0-9]{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12][0-9]|3[01])(?:T([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]|60)(\.[0-9]{1,9})?)?(Z|[+-](?:0[0-9]|1[0-4]):[0-5][0-9])?)?)?)?$/;

export interface DateRange {
  /** Inclusive start. */
  start: Date;
  /** Exclusive end. */
  end: Date;
}

/** The interval a FHIR date/dateTime/instant stands for, or undefined when it is not one. */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = m;
  if (hour !== undefined && zone === undefined && second !== undefined) return undefined;
  const offset = zone && zone !== 'Z' ? zone : 'Z';
  const iso = (y: string, mo = '01', d = '01', h = '00', mi = '00', s = '00', f = '') => `${y}-${mo}-${d}T${h}:${mi}:${s}${f}${offset}`;
  const start = new Date(iso(year, month, day, hour, minute, second, fraction ?? ''));
  if (Number.isNaN(start.getTime())) return undefined;
  // A day that does not exist in its month (2021-02-30) is rejected, not rolled over.
  if (day !== undefined && Number(day) !== new Date(`${year}-${month}-${day}T00:00:00Z`).getUTCDate()) return undefined;
  const end = new Date(start);
  if (fraction !== undefined) end.setTime(start.getTime() + 10 ** (3 - Math.min(fraction.length - 1, 3)));
  else if (second !== undefined) end.setUTCSeconds(end.getUTCSeconds() + 1);
  else if (minute !== undefined) end.setUTCMinutes(end.getUTCMinutes() + 1);
  else if (day !== undefined) end.setUTCDate(end.getUTCDate() + 1);
  else if (month !== undefined) end.setUTCMonth(end.getUTCMonth() + 1);
  else end.setUTCFullYear(end.getUTCFullYear() + 1);
  return { start, end };
}
