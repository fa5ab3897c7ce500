// A search that names both halves of a paired column (resources/search/paired-keys.ts) also looks
// the pairs up there. The two conditions stay: the pair lookup only narrows the rows they check,
// so the answer is the same with or without it.
import { OVERFLOW_PAIR, pairedColumns, pairKey } from '../../../resources/search/paired-keys.js';
import type { Condition } from '../../store/search/condition.js';

/** Beyond this many pairs (long comma lists on both sides) the single-column indexes do as well. */
const MAX_QUERY_PAIRS = 64;

type Overlap = Extract<Condition, { kind: 'overlap' }>;

function overlapOn(conditions: Condition[], column: string): Overlap | undefined {
  return conditions.find((c): c is Overlap => c.kind === 'overlap' && 'search' in c.column && c.column.search === column);
}

export function withPairedConditions(resourceType: string, conditions: Condition[]): Condition[] {
  const added: Condition[] = [];
  for (const paired of pairedColumns(resourceType)) {
    const token = overlapOn(conditions, paired.token);
    const reference = paired.references.map((code) => overlapOn(conditions, code)).find(Boolean);
    if (!token || !reference || token.keys.length * reference.keys.length > MAX_QUERY_PAIRS) continue;
    const keys = reference.keys.flatMap((r) => token.keys.map((t) => pairKey(r, t)));
    added.push({ kind: 'overlap', column: { search: paired.name }, keys: [...keys, OVERFLOW_PAIR] });
  }
  return added.length ? [...conditions, ...added] : conditions;
}
