// FHIR R4 §3.1.1.5 search values (hl7.org/fhir/R4/search.html#ptypes) kept within what one entry of
// a Postgres GIN index holds (about 2,700 bytes; a longer one fails the write with "index row
// requires … bytes"). A value up to KEY_LIMIT_BYTES is kept as it is; a longer one as its first
// bytes, a separator and the SHA-256 of the whole value. Equality stays exact (a search key is
// bounded the same way), and a prefix search stays exact for prefixes of up to
// PREFIX_SEARCH_LIMIT_BYTES, which every bounded value still begins with.
import { createHash } from 'node:crypto';

/** Longest value kept as it is, in UTF-8 bytes. */
export const KEY_LIMIT_BYTES = 2048;
/** Longest prefix a starts-with search may look for: the bounded form keeps at least this much. */
export const PREFIX_SEARCH_LIMIT_BYTES = 2000;
const SEPARATOR = '\u001e';

/** The first bytes of `text` up to `limit`, never cutting a character (a surrogate pair stays whole). */
function utf8Prefix(text: string, limit: number): string {
  let bytes = 0;
  let end = 0;
  while (end < text.length) {
    const code = text.codePointAt(end) as number;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > limit) break;
    bytes += size;
    end += code > 0xffff ? 2 : 1;
  }
  return text.slice(0, end);
}

/** `key` as a search column stores it: unchanged up to KEY_LIMIT_BYTES, else a prefix and a hash. */
export function boundedKey(key: string): string {
  // Three UTF-8 bytes at most per UTF-16 unit: most keys are decided without counting.
  if (key.length * 3 <= KEY_LIMIT_BYTES || Buffer.byteLength(key, 'utf8') <= KEY_LIMIT_BYTES) return key;
  return `${utf8Prefix(key, KEY_LIMIT_BYTES)}${SEPARATOR}${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Whether a starts-with search for `prefix` can be answered exactly from bounded values. */
export function prefixSearchable(prefix: string): boolean {
  return prefix.length * 3 <= PREFIX_SEARCH_LIMIT_BYTES || Buffer.byteLength(prefix, 'utf8') <= PREFIX_SEARCH_LIMIT_BYTES;
}
