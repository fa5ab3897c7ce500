// A transaction Bundle runs many interactions in one database transaction. Each interaction opens
// its own transaction on `ctx.db`; inside a Bundle that database is this scope, on which opening a
// transaction simply joins the one already open, so the interactions run unchanged and commit or
// roll back together.
import type { Database, Queryable } from './database.js';

export function transactionScope(outer: Database, tx: Queryable): Database {
  const scope: Database = {
    kind: outer.kind,
    joined: true,
    query: (sql, params) => tx.query(sql, params),
    transaction: (work) => work(scope),
    schemaTransaction: () => Promise.reject(new Error('a Bundle does not change the schema')),
    exec: () => Promise.reject(new Error('statements without parameters are for migrations, not for a Bundle')),
    listen: () => Promise.reject(new Error('a Bundle does not listen for notifications')),
    close: () => Promise.reject(new Error('a Bundle cannot close the database')),
  };
  return scope;
}
