// The embedded default: Postgres compiled to WebAssembly, data kept in a folder.
import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

/**
 * Opens the embedded database in `dataDir`, or in memory. An in-memory database may start from a
 * snapshot of another (a `dumpDataDir` tarball), which skips building the schema again.
 */
export async function openPglite(dataDir: string | undefined, snapshot?: Blob): Promise<Database & { dump(): Promise<Blob> }> {
  const db = dataDir ? new PGlite(dataDir) : new PGlite(snapshot ? { loadDataDir: snapshot } : {});
  await db.waitReady;

  // PGlite has a single connection: a statement from one request must never land inside
  // another request's open transaction, so every use of the connection takes its turn.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };

  const run = async <Row>(q: Pick<PGlite, 'query'>, sql: string, params?: unknown[]): Promise<QueryResult<Row>> => {
    const result = await q.query<Row>(sql, params);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  };

  return {
    kind: 'pglite',
    query: (sql, params) => exclusive(() => run(db, sql, params)),
    transaction: (work) =>
      exclusive(() =>
        db.transaction(async (inner) => {
          const tx: Queryable = { query: (sql, params) => run(inner, sql, params) };
          return work(tx);
        }),
      ),
    exec: (sql) => exclusive(async () => void (await db.exec(sql))),
    close: () => exclusive(() => db.close()),
    dump: () => exclusive(() => db.dumpDataDir('none')),
  };
}
