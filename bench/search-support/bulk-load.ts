// Bulk load: generated resources written as the rows Kiln's create stores (current row with its
// search columns, and the history row), a few thousand per statement, by INSERT … SELECT FROM
// unnest(…) into both tables in one statement, as server/store/create-batch.ts writes one batch.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { columnName, tableName } from '../../server/store/schema.js';
import type { GeneratorInit, GeneratorReply, GeneratorRequest } from './generator-worker.js';
import type { RowBatch } from './stored-rows.js';
import { searchColumns } from './stored-rows.js';

const workerScript = fileURLToPath(new URL('./generator-worker.js', import.meta.url));

/** Generator threads that hand out numbered ranges of resources as ready-to-insert rows. */
export class RowSource {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, { resolve: (reply: GeneratorReply) => void; reject: (error: Error) => void }>();
  private nextId = 0;
  private turn = 0;
  validated = 0;
  invalid: string[] = [];

  constructor(init: GeneratorInit, threads: number) {
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(workerScript, { workerData: init });
      worker.on('message', (reply: GeneratorReply) => {
        const waiting = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        waiting?.resolve(reply);
      });
      worker.on('error', (error) => {
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
      });
      return worker;
    });
  }

  rows(kind: GeneratorRequest['kind'], from: number, to: number): Promise<RowBatch> {
    const id = this.nextId++;
    const worker = this.workers[this.turn++ % this.workers.length];
    return new Promise<GeneratorReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, kind, from, to } satisfies GeneratorRequest);
    }).then((reply) => {
      if ('error' in reply) throw new Error(`generating ${kind} ${from}–${to} failed: ${reply.error}`);
      this.validated += reply.validated;
      this.invalid.push(...reply.invalid);
      if (this.invalid.length) throw new Error(`a generated resource is not valid: ${this.invalid[0]}`);
      return reply.batch;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/** One statement: the current rows and their history rows, as Kiln's batched create writes them. */
export function insertSql(batch: RowBatch): { sql: string; params: unknown[] } {
  const types = new Map(searchColumns(batch.resourceType));
  // Only the search columns some row of the batch has a value for; the others stay NULL.
  const used = batch.columns.map((name, i) => ({ name, values: batch.values[i], sqlType: types.get(name) as string })).filter((c) => c.values.some((v) => v !== null));
  const params: unknown[] = [batch.ids, batch.lastUpdated, batch.content, batch.patientCompartment, ...used.map((c) => c.values), batch.resourceType];
  const typeParam = `$${params.length}`;
  // text[] columns arrive as array literals (text) and are cast per row.
  const arrays = used.map((c, i) => `$${i + 5}::${c.sqlType === 'text[]' ? 'text' : c.sqlType}[]`);
  const names = used.map((_, i) => `c${i}`);
  const casts = used.map((c, i) => (c.sqlType === 'text[]' ? `c${i}::text[]` : `c${i}`));
  const sql = `
    WITH v AS (
      SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[]${arrays.map((a) => `, ${a}`).join('')})
        AS v (id, ts, content, patients${names.map((n) => `, ${n}`).join('')})
    ),
    cur AS (
      INSERT INTO ${tableName(batch.resourceType)} (id, version_id, last_updated, deleted, content, patient_compartment${used.map((c) => `, ${columnName(c.name)}`).join('')})
      SELECT id, 1, ts, false, content, patients::text[]${casts.map((c) => `, ${c}`).join('')} FROM v
    )
    INSERT INTO resource_history (resource_type, id, version_id, last_updated, deleted, method, url, content, patient_compartment)
    SELECT ${typeParam}, id, 1, ts, false, 'POST', ${typeParam}, content, patients::text[] FROM v`;
  return { sql, params };
}

export interface LoadProgress {
  done: number;
  total: number;
  seconds: number;
}

/**
 * Loads resources `from`…`to` of a kind: `connections` statements in flight, the generator
 * threads working ahead. Calls `progress` after every batch.
 */
export async function load(
  pool: pg.Pool,
  source: RowSource,
  kind: GeneratorRequest['kind'],
  from: number,
  to: number,
  options: { batchSize: number; connections: number; progress?: (p: LoadProgress) => void },
): Promise<{ rows: number; seconds: number }> {
  const started = performance.now();
  const ranges: [number, number][] = [];
  for (let n = from; n < to; n += options.batchSize) ranges.push([n, Math.min(to, n + options.batchSize)]);
  // Generation runs ahead of the inserts by a few batches.
  const ahead = options.connections + 2;
  const generated: (Promise<RowBatch> | undefined)[] = [];
  const generate = (i: number) => {
    if (i >= ranges.length || generated[i]) return;
    const rows = source.rows(kind, ranges[i][0], ranges[i][1]);
    // Awaited in turn below; a failure must not surface earlier as an unhandled rejection.
    rows.catch(() => undefined);
    generated[i] = rows;
  };
  for (let i = 0; i < ahead; i++) generate(i);
  let next = 0;
  let done = 0;
  const loop = async () => {
    while (next < ranges.length) {
      const i = next++;
      generate(i + ahead);
      const batch = (await generated[i]) as RowBatch;
      generated[i] = undefined;
      const { sql, params } = insertSql(batch);
      await pool.query(sql, params);
      done += batch.count;
      options.progress?.({ done, total: to - from, seconds: (performance.now() - started) / 1000 });
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  return { rows: done, seconds: (performance.now() - started) / 1000 };
}
