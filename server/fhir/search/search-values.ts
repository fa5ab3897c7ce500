// FHIR R4 §3.1.1.5.7 escaping (hl7.org/fhir/R4/search.html#escaping) and §3.1.1.4.1 prefixes.
import { invalidValue } from '../errors.js';

/** Splits on commas not escaped with a backslash, then removes the escapes (`\,` `\|` `\$` `\\`). */
export function splitValues(text: string): string[] {
  const values: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && i + 1 < text.length) {
      current += char + text[++i];
    } else if (char === ',') {
      values.push(current);
      current = '';
    } else current += char;
  }
  values.push(current);
  return values;
}

/** Splits a composite value on `$` not escaped, keeping other escapes for the parts' own parsing. */
export function splitDollars(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && i + 1 < text.length) {
      const next = text[++i];
      current += next === '$' ? '$' : char + next;
    } else if (char === '$') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

/** Splits on `|` not escaped, unescaping the parts. */
export function splitBars(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && i + 1 < text.length) current += text[++i];
    else if (char === '|') {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

export function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

/** `ge2020` → [ge, 2020]; a value without a known prefix is `eq`. */
export function splitPrefix(value: string): [Prefix, string] {
  const head = value.slice(0, 2);
  if ((PREFIXES as readonly string[]).includes(head) && /^[0-9+-]/.test(value.slice(2))) return [head as Prefix, value.slice(2)];
  return ['eq', value];
}

/** A decimal as written, with the interval its precision implies: 100 → [99.5, 100.5). */
export function decimalRange(text: string, name: string): { value: number; low: number; high: number } {
  const match = /^([+-]?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (!match) throw invalidValue(`Search parameter "${name}": "${text}" is not a number`);
  const value = Number(text);
  const decimals = (match[3] ?? '').length - Number(match[4] ?? 0);
  const half = 0.5 * 10 ** -decimals;
  return { value, low: value - half, high: value + half };
}
