// A real Postgres server through a `pg` connection pool.
import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.js';

export async function openPostgres(connectionString: string, poolSize: number, statementTimeoutMs = 0): Promise<Database> {
  const pool = new pg.Pool({ connectionString, max: poolSize, statement_timeout: statementTimeoutMs || undefined });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  const client = await pool.connect();
  client.release();

  const run = async <Row>(q: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<Row>> => {
    const result = await q.query(sql, params as unknown[] | undefined);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };

  return {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    async transaction(work) {
      const conn = await pool.connect();
      // One connection runs one statement at a time; work that issues several at once (the
      // creates of a transaction Bundle) takes turns instead of queueing inside the driver.
      let tail: Promise<unknown> = Promise.resolve();
      const tx: Queryable = {
        query: <Row>(sql: string, params?: unknown[]) => {
          const result = tail.then(() => run<Row>(conn, sql, params));
          tail = result.catch(() => undefined);
          return result;
        },
      };
      try {
        await conn.query('BEGIN');
        const result = await work(tx);
        await conn.query('COMMIT');
        return result;
      } catch (error) {
        await conn.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        conn.release();
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}
