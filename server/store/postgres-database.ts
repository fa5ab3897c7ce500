// A real Postgres server through a `pg` connection pool, and one connection outside it that listens
// for notifications (server/store/postgres-listener.ts). Nothing waits on the server for ever: a
// new connection gives up after `connectTimeoutMs`, and a statement KILN_STATEMENT_TIMEOUT_MS plus
// a margin after it was sent, for a server that stopped answering without closing its connections
// (the server's own statement_timeout only helps a server that still runs).
import pg from 'pg';
import type { Database, QueryResult, SchemaTransaction } from './database.js';
import { postgresListener } from './postgres-listener.js';
import { isUnavailable } from './unavailable.js';

/** The pool of each Postgres database, for the store layer's own use (server/store/shared-rate-limiter.ts). */
const pools = new WeakMap<Database, pg.Pool>();

export function poolOf(db: Database): pg.Pool | undefined {
  return pools.get(db);
}

/** Time the server's statement_timeout has to cancel a statement and say so, before the client gives up on it. */
const CLIENT_DEADLINE_MARGIN_MS = 2_000;
/** The longest timer Node keeps: a schema change has no deadline of its own. */
const NO_DEADLINE_MS = 2 ** 31 - 1;

export interface PostgresSettings {
  poolSize: number;
  /** Longest one statement may run on the server; 0 for no limit. */
  statementTimeoutMs: number;
  /** Longest a new connection may take to open. */
  connectTimeoutMs: number;
}

export async function openPostgres(connectionString: string, settings: PostgresSettings): Promise<Database> {
  const { statementTimeoutMs } = settings;
  const pool = new pg.Pool({
    connectionString,
    max: settings.poolSize,
    statement_timeout: statementTimeoutMs || undefined,
    query_timeout: statementTimeoutMs ? statementTimeoutMs + CLIENT_DEADLINE_MARGIN_MS : undefined,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // An idle connection whose server vanished (a network partition) is noticed by TCP, not by the next request.
    keepAlive: true,
  });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }

  const run = async <Row>(q: pg.Pool | pg.PoolClient, sql: string, params?: unknown[], deadlineMs?: number): Promise<QueryResult<Row>> => {
    const config: pg.QueryConfig & { query_timeout?: number } = { text: sql, values: params as unknown[] | undefined };
    if (deadlineMs) config.query_timeout = deadlineMs;
    const result = await q.query(config);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  };

  /** `work` on one pooled connection inside BEGIN/COMMIT; `deadlineMs` replaces the pool's statement deadline. */
  async function inTransaction<T>(work: (tx: SchemaTransaction) => Promise<T>, prelude: string[], deadlineMs?: number): Promise<T> {
    const conn = await pool.connect();
    // One connection runs one statement at a time; work that issues several at once (the
    // creates of a transaction Bundle) takes turns instead of queueing inside the driver.
    let tail: Promise<unknown> = Promise.resolve();
    const inTurn = <R>(next: () => Promise<R>): Promise<R> => {
      const result = tail.then(next);
      tail = result.catch(() => undefined);
      return result;
    };
    const tx: SchemaTransaction = {
      query: <Row>(sql: string, params?: unknown[]) => inTurn(() => run<Row>(conn, sql, params, deadlineMs)),
      exec: (sql: string) => inTurn(async () => void (await run(conn, sql, undefined, deadlineMs))),
    };
    let broken: unknown;
    try {
      await run(conn, 'BEGIN');
      for (const statement of prelude) await run(conn, statement);
      const result = await work(tx);
      await run(conn, 'COMMIT', undefined, deadlineMs);
      return result;
    } catch (error) {
      // A connection that is gone or frozen cannot roll back (the server does, when it notices),
      // and must not go back to the pool with a statement still in flight on it.
      if (isUnavailable(error)) broken = error;
      else await run(conn, 'ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
      throw error;
    } finally {
      conn.release(broken instanceof Error ? broken : broken === undefined ? undefined : true);
    }
  }

  const listener = postgresListener(connectionString, settings.connectTimeoutMs);

  const db: Database = {
    kind: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    transaction: (work) => inTransaction(work, []),
    schemaTransaction: (work) => inTransaction(work, ['SET LOCAL statement_timeout = 0'], NO_DEADLINE_MS),
    async exec(sql) {
      await pool.query(sql);
    },
    listen: (channel, handler) => listener.listen(channel, handler),
    async close() {
      await listener.close();
      await pool.end();
    },
  };
  pools.set(db, pool);
  return db;
}
