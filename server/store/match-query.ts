// Matching resources against search criteria for conditional create, update and delete.
import type { Queryable } from './database.js';
import type { Condition } from './search/condition.js';
import { searchRows } from './search/search-sql.js';

export async function findMatchingIds(q: Queryable, resourceType: string, conditions: Condition[], limit: number): Promise<string[]> {
  const rows = await searchRows(q, { resourceType, conditions, sort: [], count: limit - 1 });
  return rows.map((row) => row.id);
}

/**
 * The criteria of a conditional write as one text, the same however the request spelled them
 * (`identifier=s|v`, `identifier=s%7Cv`, parameters in another order): made from the parsed
 * conditions, not from the query string.
 */
export function criteriaKey(resourceType: string, conditions: Condition[]): string {
  return `${resourceType}?${conditions.map((condition) => JSON.stringify(condition)).sort().join('&')}`;
}

/** Serialises conditional writes with the same criteria until the transaction ends. */
export async function lockCriteria(tx: Queryable, resourceType: string, conditions: Condition[]): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [criteriaKey(resourceType, conditions)]);
}
