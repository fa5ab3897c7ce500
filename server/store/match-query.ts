// SQL for matching resources against simple criteria (conditional create, update and delete).
// Every value is a bind parameter; column names come only from the search-column registry.
import type { Queryable } from './database.js';
import { columnName, tableName } from './schema.js';

/** All conditions must hold; within one condition, any of the values may match. */
export interface MatchCriteria {
  idAnyOf: string[][];
  tokens: { code: string; anyOf: string[] }[];
}

export async function findMatchingIds(q: Queryable, resourceType: string, criteria: MatchCriteria, limit: number): Promise<string[]> {
  const where = ['NOT deleted'];
  const params: unknown[] = [];
  for (const ids of criteria.idAnyOf) {
    params.push(ids);
    where.push(`id = ANY($${params.length}::text[])`);
  }
  for (const token of criteria.tokens) {
    params.push(token.anyOf);
    where.push(`${columnName(token.code)} && $${params.length}::text[]`);
  }
  params.push(limit);
  const result = await q.query<{ id: string }>(
    `SELECT id FROM ${tableName(resourceType)} WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return result.rows.map((row) => row.id);
}

/** Serialises conditional writes with the same criteria until the transaction ends. */
export async function lockCriteria(tx: Queryable, key: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
}
