// What a write stores for search (hl7.org/fhir/R4/search.html#ptypes): every indexed parameter's
// values, computed from its FHIRPath expression inside the write, in the shape its columns hold.
// Multi-valued dates and numbers are kept as one envelope (lowest start, highest end).
import { evalFhirPathTyped, toTypedValue, type FhirPathAtom, type TypedValue } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { dateRange } from '../fhir-date-range.js';
import { tokenKeys } from '../token-values.js';
import { boundedKey } from './bounded-keys.js';
import { evaluator, type Evaluate } from './compiled-expression.js';
import { hasRoot, indexedParameters, rootNames, type ParameterDefinition } from './parameters.js';
import { pairedColumns, pairedValues } from './paired-keys.js';
import { normalizeString, stringParts } from './string-values.js';
import { canonicalUnit, UCUM } from './ucum.js';

export interface IndexColumn {
  name: string;
  sqlType: 'text[]' | 'timestamptz' | 'numeric' | 'jsonb';
  index: 'gin' | 'btree';
}

/** Column names: the code for the main column, with a suffix for a parameter's other columns. */
export const column = {
  main: (code: string) => code,
  text: (code: string) => `${code}:text`,
  exact: (code: string) => `${code}:exact`,
  low: (code: string) => `${code}:lo`,
  high: (code: string) => `${code}:hi`,
  /** A quantity in UCUM base units: `value-quantity:clo` / `:chi`. */
  canonicalLow: (code: string) => `${code}:clo`,
  canonicalHigh: (code: string) => `${code}:chi`,
  latitude: (code: string) => `${code}:lat`,
  longitude: (code: string) => `${code}:long`,
};

export function indexColumns(parameter: ParameterDefinition): IndexColumn[] {
  const { code } = parameter;
  const array = (name: string): IndexColumn => ({ name, sqlType: 'text[]', index: 'gin' });
  switch (parameter.type) {
    case 'token':
      return [array(column.main(code)), array(column.text(code))];
    case 'string':
      return [array(column.main(code)), array(column.exact(code))];
    case 'reference':
    case 'uri':
      return [array(column.main(code))];
    case 'date':
      return [
        { name: column.low(code), sqlType: 'timestamptz', index: 'btree' },
        { name: column.high(code), sqlType: 'timestamptz', index: 'btree' },
      ];
    case 'composite':
      return [{ name: column.main(code), sqlType: 'jsonb', index: 'gin' }];
    case 'near':
      return [
        { name: column.latitude(code), sqlType: 'numeric', index: 'btree' },
        { name: column.longitude(code), sqlType: 'numeric', index: 'btree' },
      ];
    case 'number':
    case 'quantity': {
      const range: IndexColumn[] = [
        { name: column.low(code), sqlType: 'numeric', index: 'btree' },
        { name: column.high(code), sqlType: 'numeric', index: 'btree' },
      ];
      if (parameter.type === 'number') return range;
      return [
        ...range,
        array(column.main(code)),
        { name: column.canonicalLow(code), sqlType: 'numeric', index: 'btree' },
        { name: column.canonicalHigh(code), sqlType: 'numeric', index: 'btree' },
      ];
    }
  }
}

/** Keys of a reference column: `Type/id`, the id alone, the URL as written, identifier tokens. */
export const referenceKey = {
  typed: (type: string, id: string) => `${type}/${id}`,
  idOnly: (id: string) => `\u0001${id}`,
  url: (url: string) => url,
  identifier: (key: string) => `\u0005${key}`,
};

/** Keys of a quantity's unit column. */
export const unitKey = {
  systemAndCode: (system: string, code: string) => `${system}|${code}`,
  code: (code: string) => `\u0001${code}`,
  unit: (unit: string) => `\u0002${unit}`,
  /** The UCUM base units of the canonical columns, e.g. `g1`. */
  canonical: (unit: string) => `\u0003${unit}`,
};

type Row = Record<string, unknown>;

/** Each expression's function (compiled-expression.ts), made the first time it runs. */
const evaluators = new WeakMap<FhirPathAtom, Evaluate>();

/** Set while interpretedIndexValues runs: every expression through the interpreter. */
let interpreterOnly = false;

/** What `parsed` gives for `input`: compiled where its shape allows, else interpreted. */
export function evaluate(parsed: FhirPathAtom, input: TypedValue[], variables: Record<string, TypedValue>): TypedValue[] {
  if (interpreterOnly) return evalFhirPathTyped(parsed, input, variables);
  let run = evaluators.get(parsed);
  if (!run) {
    run = evaluator(parsed);
    evaluators.set(parsed, run);
  }
  return run(input, variables);
}
const nonEmpty = <T>(values: T[]): T[] | null => (values.length ? values : null);

/** The search values of `resource`, for all its type's parameters or only the ones named. */
export function indexValues(resource: Resource, only?: ParameterDefinition[]): Row {
  const row: Row = {};
  const root = [toTypedValue(resource)];
  // %resource: what a composite's parts may start from (MolecularSequence's chromosome).
  const variables = { '%resource': root[0] };
  const names = rootNames(resource as unknown as Record<string, unknown>);
  for (const parameter of only ?? indexedParameters(resource.resourceType).values()) {
    const values = hasRoot(names, parameter.roots) ? evaluate(parameter.parsed, root, variables) : [];
    // Most parameters have no value in a given resource: their columns are all null.
    if (values.length) Object.assign(row, valuesFor(parameter, values, variables));
    else for (const name of columnNames(parameter)) row[name] = null;
  }
  // A caller that asks for some parameters only wants those columns.
  if (!only) for (const paired of pairedColumns(resource.resourceType)) row[paired.name] = pairedValues(paired, row);
  // Pairs are made of whole keys first, so that a search pairs its keys the same way; then every
  // key of a text[] column is bounded to what an index entry holds.
  for (const [name, value] of Object.entries(row)) if (Array.isArray(value)) row[name] = [...new Set((value as string[]).map(boundedKey))];
  return row;
}

const namesOfColumns = new WeakMap<ParameterDefinition, string[]>();

/** The names of a parameter's columns, in the order valuesFor gives them. */
function columnNames(parameter: ParameterDefinition): string[] {
  let names = namesOfColumns.get(parameter);
  if (!names) {
    names = indexColumns(parameter).map((c) => c.name);
    namesOfColumns.set(parameter, names);
  }
  return names;
}

/** indexValues with every expression interpreted: the compiled path's oracle, and its benchmark's baseline. */
export function interpretedIndexValues(resource: Resource): Row {
  interpreterOnly = true;
  try {
    return indexValues(resource);
  } finally {
    interpreterOnly = false;
  }
}

/** The empty row of a type: what a deletion leaves in the search columns. */
export function emptyIndexValues(resourceType: string): Row {
  const row: Row = {};
  for (const parameter of indexedParameters(resourceType).values()) for (const c of indexColumns(parameter)) row[c.name] = null;
  for (const paired of pairedColumns(resourceType)) row[paired.name] = null;
  return row;
}

function valuesFor(parameter: ParameterDefinition, values: TypedValue[], variables: Record<string, TypedValue>): Row {
  const { code } = parameter;
  switch (parameter.type) {
    case 'composite':
      return { [column.main(code)]: compositeItems(parameter, values, variables) };
    case 'near': {
      const position = values.find((v) => typeof v.value?.latitude === 'number' && typeof v.value?.longitude === 'number')?.value;
      return { [column.latitude(code)]: position?.latitude ?? null, [column.longitude(code)]: position?.longitude ?? null };
    }
    case 'token':
      return { [column.main(code)]: nonEmpty(tokenKeys(values)), [column.text(code)]: nonEmpty(tokenTexts(values)) };
    case 'string': {
      const parts = stringParts(values);
      return { [column.main(code)]: nonEmpty([...new Set(parts.map(normalizeString))]), [column.exact(code)]: nonEmpty([...new Set(parts)]) };
    }
    case 'reference':
      return { [column.main(code)]: nonEmpty(referenceKeys(values)) };
    case 'uri':
      return { [column.main(code)]: nonEmpty(values.map((v) => v.value).filter((v): v is string => typeof v === 'string')) };
    case 'date':
      return envelope(code, values.flatMap(dateRanges));
    case 'number':
      return envelope(code, values.flatMap(numberRanges));
    case 'quantity': {
      const canonical = values.flatMap(canonicalRanges);
      const units = [...unitKeys(values), ...new Set(canonical.map((c) => unitKey.canonical(c.unit)))];
      const canonicalEnvelope = envelope(code, canonical.map((c) => c.range));
      return {
        ...envelope(code, values.flatMap(numberRanges)),
        [column.main(code)]: nonEmpty(units),
        [column.canonicalLow(code)]: canonicalEnvelope[column.low(code)],
        [column.canonicalHigh(code)]: canonicalEnvelope[column.high(code)],
      };
    }
  }
}

const partsOfComposites = new WeakMap<ParameterDefinition, ParameterDefinition[]>();

/** A composite's parts, each as a parameter of its own whose columns are named by its index. */
function partDefinitions(parameter: ParameterDefinition): ParameterDefinition[] {
  let parts = partsOfComposites.get(parameter);
  if (!parts) {
    parts = (parameter.components ?? []).map((part, index) => ({ ...parameter, code: String(index), type: part.type, components: undefined }));
    partsOfComposites.set(parameter, parts);
  }
  return parts;
}

/**
 * One JSON object per item of the composite's expression (an Observation, or each of its
 * components), holding each part's values under its index: `{"0": [token keys], "1:lo": 72, …}`.
 * Parts are matched within one item, as composite search requires.
 */
function compositeItems(parameter: ParameterDefinition, items: TypedValue[], variables: Record<string, TypedValue>): string | null {
  const out: Record<string, unknown>[] = [];
  for (const item of items) {
    const entry: Record<string, unknown> = {};
    let complete = true;
    for (const [index, part] of (parameter.components ?? []).entries()) {
      const partDefinition = partDefinitions(parameter)[index];
      const partRow = valuesFor(partDefinition, evaluate(part.parsed, [item], variables), variables);
      const present = Object.values(partRow).some((v) => v !== null);
      if (!present) complete = false;
      for (const [key, value] of Object.entries(partRow)) if (value !== null) entry[key] = jsonSafe(value);
    }
    if (complete) out.push(entry);
  }
  return out.length ? JSON.stringify(out) : null;
}

function jsonSafe(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

function envelope<T extends Date | number>(code: string, ranges: [T, T][]): Row {
  if (!ranges.length) return { [column.low(code)]: null, [column.high(code)]: null };
  let low = ranges[0][0];
  let high = ranges[0][1];
  for (const [l, h] of ranges) {
    if (l < low) low = l;
    if (h > high) high = h;
  }
  return { [column.low(code)]: low, [column.high(code)]: high };
}

const FAR_PAST = new Date('0001-01-01T00:00:00Z');
const FAR_FUTURE = new Date('9999-12-31T23:59:59.999Z');

function dateRanges({ type, value }: TypedValue): [Date, Date][] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') {
    const range = dateRange(value);
    return range ? [[range.start, range.end]] : [];
  }
  if (type === 'Period') {
    const start = typeof value.start === 'string' ? dateRange(value.start)?.start : undefined;
    const end = typeof value.end === 'string' ? dateRange(value.end)?.end : undefined;
    if (!start && !end) return [];
    return [[start ?? FAR_PAST, end ?? FAR_FUTURE]];
  }
  if (type === 'Timing') {
    const events = (value.event ?? []).flatMap((event: string) => dateRanges({ type: 'dateTime', value: event }));
    const bounds = value.repeat?.boundsPeriod ? dateRanges({ type: 'Period', value: value.repeat.boundsPeriod }) : [];
    return [...events, ...bounds];
  }
  return [];
}

function numberRanges({ type, value }: TypedValue): [number, number][] {
  if (typeof value === 'number') return [[value, value]];
  if (value === null || typeof value !== 'object') return [];
  if (type === 'Range') {
    const low = typeof value.low?.value === 'number' ? value.low.value : -Infinity;
    const high = typeof value.high?.value === 'number' ? value.high.value : Infinity;
    if (low === -Infinity && high === Infinity) return [];
    return [[low, high]];
  }
  if (typeof value.value === 'number') return [[value.value, value.value]];
  return [];
}

/** Quantities in UCUM units, in base units: [range, base unit] (a Range's ends must agree). */
function canonicalRanges({ type, value }: TypedValue): { range: [number, number]; unit: string }[] {
  const canonical = (q: { value?: number; system?: string; code?: string } | undefined) =>
    q && typeof q.value === 'number' && q.system === UCUM && q.code ? { value: q.value, unit: canonicalUnit(q.code) } : undefined;
  if (!value || typeof value !== 'object') return [];
  if (type === 'Range') {
    const low = canonical(value.low);
    const high = canonical(value.high);
    const unit = (low?.unit ?? high?.unit)?.unit;
    if (!unit || (low?.unit && low.unit.unit !== unit) || (high?.unit && high.unit.unit !== unit)) return [];
    const from = low?.unit ? low.value * low.unit.factor : -Infinity;
    const to = high?.unit ? high.value * high.unit.factor : Infinity;
    return [{ range: [from, to], unit }];
  }
  const single = canonical(value);
  if (!single?.unit) return [];
  const scaled = single.value * single.unit.factor;
  return [{ range: [scaled, scaled], unit: single.unit.unit }];
}

function unitKeys(values: TypedValue[]): string[] {
  const keys = new Set<string>();
  const add = (q: { system?: string; code?: string; unit?: string } | undefined) => {
    if (!q) return;
    if (q.code) keys.add(unitKey.code(q.code));
    if (q.system && q.code) keys.add(unitKey.systemAndCode(q.system, q.code));
    if (q.unit) keys.add(unitKey.unit(q.unit));
  };
  for (const { type, value } of values) {
    if (type === 'Range') {
      add(value?.low);
      add(value?.high);
    } else if (value && typeof value === 'object') add(value);
  }
  return [...keys];
}

function tokenTexts(values: TypedValue[]): string[] {
  const texts = new Set<string>();
  const add = (text: unknown) => {
    if (typeof text === 'string' && text) texts.add(normalizeString(text));
  };
  for (const { type, value } of values) {
    if (!value || typeof value !== 'object') continue;
    if (type === 'CodeableConcept') {
      add(value.text);
      for (const coding of value.coding ?? []) add(coding.display);
    } else if (type === 'Coding') add(value.display);
    else if (type === 'Identifier') add(value.type?.text);
  }
  return [...texts];
}

function referenceKeys(values: TypedValue[]): string[] {
  const keys = new Set<string>();
  for (const { value } of values) {
    if (typeof value === 'string') {
      // canonical: a URL, possibly with |version
      keys.add(referenceKey.url(value.split('|')[0]));
      continue;
    }
    if (!value || typeof value !== 'object') continue;
    const reference = value.reference;
    if (typeof reference === 'string' && !reference.startsWith('#')) {
      // Relative references are to this server; an absolute one is kept as its URL only, since
      // it may name another server (a search for this server's URL looks for both forms).
      const match = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
      if (match) {
        keys.add(referenceKey.typed(match[1], match[2]));
        keys.add(referenceKey.idOnly(match[2]));
      } else {
        keys.add(referenceKey.url(reference.replace(/\/_history\/[^/]+$/, '')));
      }
    }
    if (value.identifier) for (const key of tokenKeys([{ type: 'Identifier', value: value.identifier }])) keys.add(referenceKey.identifier(key));
  }
  return [...keys];
}

