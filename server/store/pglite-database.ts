// The embedded default: Postgres compiled to WebAssembly, data kept in a folder.
import { PGlite } from '@electric-sql/pglite';
import { checkChannel, type Database, type QueryResult, type SchemaTransaction } from './database.js';

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

  const transaction = <T>(work: (tx: SchemaTransaction) => Promise<T>, prelude?: string): Promise<T> =>
    exclusive(() =>
      db.transaction(async (inner) => {
        if (prelude) await inner.exec(prelude);
        const tx: SchemaTransaction = { query: (sql, params) => run(inner, sql, params), exec: async (sql) => void (await inner.exec(sql)) };
        return work(tx);
      }),
    );

  return {
    kind: 'pglite',
    query: (sql, params) => exclusive(() => run(db, sql, params)),
    transaction: (work) => transaction(work),
    schemaTransaction: (work) => transaction(work, 'SET LOCAL statement_timeout = 0'),
    exec: (sql) => exclusive(async () => void (await db.exec(sql))),
    // One process, one connection: no notification can be missed, so `missed` is never called.
    listen: (channel, handler) => exclusive(async () => void (await db.listen(checkChannel(channel), (payload) => handler.message(payload)))),
    close: () => exclusive(() => db.close()),
    // Gzipped: the schema's empty tables and indexes take 130 MB as a plain tar, 9 MB compressed, and
    // the compressed one also loads faster.
    dump: () => exclusive(() => db.dumpDataDir('gzip')),
  };
}
