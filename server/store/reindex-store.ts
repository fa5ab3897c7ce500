// SQL for re-indexing: reading stored resources in id order, batch by batch, and rewriting their
// search columns in one statement per batch.
import type { Queryable } from './database.js';
import { columnName, searchColumnTypes, tableName } from './schema.js';

export async function readBatchAfter(q: Queryable, resourceType: string, afterId: string | undefined, limit: number): Promise<{ id: string; content: string }[]> {
  const result = await q.query<{ id: string; content: string }>(
    `SELECT id, content FROM ${tableName(resourceType)} WHERE NOT deleted AND ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
    [afterId ?? null, limit],
  );
  return result.rows;
}

export async function updateSearchColumns(q: Queryable, resourceType: string, rows: { id: string; columns: Record<string, unknown> }[]): Promise<void> {
  if (!rows.length) return;
  const codes = Object.keys(rows[0].columns);
  if (!codes.length) return;
  const types = searchColumnTypes(resourceType);
  const params: unknown[] = [];
  const tuples = rows.map((row, r) => {
    const values = [row.id, ...codes.map((code) => row.columns[code])];
    const first = params.length + 1;
    params.push(...values);
    const casts = ['::text', ...codes.map((code) => `::${types.get(code) ?? 'text'}`)];
    return `(${values.map((_, i) => `$${first + i}${r === 0 ? casts[i] : ''}`).join(', ')})`;
  });
  const names = codes.map(columnName);
  const table = tableName(resourceType);
  await q.query(
    `UPDATE ${table} SET ${names.map((n) => `${n} = v.${n}`).join(', ')}
     FROM (VALUES ${tuples.join(', ')}) AS v (id, ${names.join(', ')}) WHERE ${table}.id = v.id`,
    params,
  );
}

/** A counter every process watches: it changes when the search parameters change. */
export async function registryGeneration(q: Queryable): Promise<number> {
  const result = await q.query<{ generation: string | number }>('SELECT generation FROM kiln_registry WHERE id = 1');
  return Number(result.rows[0]?.generation ?? 0);
}

export async function bumpRegistryGeneration(q: Queryable): Promise<number> {
  const result = await q.query<{ generation: string | number }>(
    'INSERT INTO kiln_registry (id, generation) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET generation = kiln_registry.generation + 1 RETURNING generation',
  );
  return Number(result.rows[0].generation);
}

export async function readAllCurrent(q: Queryable, resourceType: string): Promise<string[]> {
  const result = await q.query<{ content: string }>(`SELECT content FROM ${tableName(resourceType)} WHERE NOT deleted`);
  return result.rows.map((row) => row.content);
}
