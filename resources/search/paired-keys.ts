// "This patient's results with this code" (Observation?subject=Patient/1&code=loinc|8867-4) is
// the search clinical apps send most. Two single-column indexes answer it by reading every one of
// the patient's resources, or every resource with the code, so its time grows with the data. A
// paired column holds each (subject key, code key) pair of a resource as one key: one GIN lookup
// finds exactly the rows that have both, however many resources the patient or the code has.
import { indexedParameters, officialParameter } from './parameters.js';

export interface PairedColumn {
  /** Column name: `code:subject`. */
  name: string;
  /** Reference parameters whose keys are paired (`subject`, and `patient` where the type has it). */
  references: string[];
  /** The token parameter whose keys are paired. */
  token: string;
}

/** More pairs than this (a resource with many codings and references) store only the overflow key. */
const MAX_PAIRS = 256;
/** The key of a resource with too many pairs: every search through the column also looks for it. */
export const OVERFLOW_PAIR = '\u0007';

const PAIR_SEPARATOR = '\u001f';
const REFERENCES = ['subject', 'patient'];
const TOKEN = 'code';

export const pairKey = (referenceKey: string, tokenKey: string) => `${referenceKey}${PAIR_SEPARATOR}${tokenKey}`;

const cache = new Map<string, PairedColumn[]>();

/** The paired columns of a resource type: one for types with a `code` token and a `subject` or `patient` reference. */
export function pairedColumns(resourceType: string): PairedColumn[] {
  let found = cache.get(resourceType);
  if (found) return found;
  // Official parameters only, so that a custom SearchParameter never changes a table's columns here.
  const parameters = indexedParameters(resourceType);
  const official = (code: string, type: string) => parameters.get(code)?.type === type && officialParameter(resourceType, code);
  const references = REFERENCES.filter((code) => official(code, 'reference'));
  found = official(TOKEN, 'token') && references.length ? [{ name: `${TOKEN}:${references[0]}`, references, token: TOKEN }] : [];
  cache.set(resourceType, found);
  return found;
}

/** Every pair of the row's reference keys and token keys, or the overflow key when there are too many. */
export function pairedValues(paired: PairedColumn, row: Record<string, unknown>): string[] | null {
  const referenceKeys = new Set(paired.references.flatMap((code) => (row[code] as string[] | null) ?? []));
  const tokenKeys = (row[paired.token] as string[] | null) ?? [];
  if (!referenceKeys.size || !tokenKeys.length) return null;
  if (referenceKeys.size * tokenKeys.length > MAX_PAIRS) return [OVERFLOW_PAIR];
  const keys: string[] = [];
  for (const reference of referenceKeys) for (const token of tokenKeys) keys.push(pairKey(reference, token));
  return keys;
}
