// Bringing the schema up to date: a first start says what it is doing while it creates some 5,000
// tables, columns and indexes; a start on a database that is up to date only reads two rows (no
// catalog scan, no DDL, no lock); a column the definitions want and the database lacks is added.
import { openPglite } from '../../server/store/pglite-database.js';
import { openPostgres } from '../../server/store/postgres-database.js';
import type { Database, QueryResult } from '../../server/store/database.js';
import { migrate, syncSearchColumns } from '../../server/store/schema.js';
import { createFreshDatabase, dropDatabase, suitePostgres } from '../faults/support/postgres.js';

let db: Database;
let freshUrl: string | undefined;

beforeAll(async () => {
  // A database Kiln never ran on: a Postgres database of its own, or a new embedded one.
  if (suitePostgres) {
    freshUrl = await createFreshDatabase('kiln_migrations');
    db = await openPostgres(freshUrl, { poolSize: 2, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000 });
  } else {
    db = await openPglite(undefined);
  }
}, 120_000);
afterAll(async () => {
  await db?.close();
  if (freshUrl) await dropDatabase(freshUrl);
});

/** `db` with every statement it is sent recorded, and schema transactions counted. */
function recording(target: Database): { db: Database; statements: string[]; schemaChanges: () => number } {
  const statements: string[] = [];
  let changes = 0;
  const wrapped: Database = {
    ...target,
    query: <Row>(sql: string, params?: unknown[]): Promise<QueryResult<Row>> => {
      statements.push(sql);
      return target.query<Row>(sql, params);
    },
    exec: (sql) => {
      statements.push(sql);
      return target.exec(sql);
    },
    schemaTransaction: (work) => {
      changes++;
      return target.schemaTransaction(work);
    },
  };
  return { db: wrapped, statements, schemaChanges: () => changes };
}

it('says it is creating the schema on a first start, and how far it got', async () => {
  const said: string[] = [];
  await migrate(db, { log: { info: (message) => said.push(message) } });
  expect(said[0]).toBe('creating the database schema (first start)…');
  expect(said.filter((line) => /^database schema: (25|50|75)% \([\d,]+ of [\d,]+ statements\)$/.test(line))).toHaveLength(3);
  expect(said.at(-1)).toMatch(/^database schema ready \([\d,]+ statements in [\d.]+ s\)$/);
  const tables = await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_class WHERE relname = 'Patient' AND relkind = 'r'");
  expect(Number(tables.rows[0].n)).toBe(1);
}, 120_000);

it('only reads, and says nothing, on a start where the schema is up to date', async () => {
  const watched = recording(db);
  const said: string[] = [];
  await migrate(watched.db, { log: { info: (message) => said.push(message) } });
  // The custom search parameters' check at every start is the same quick read.
  await syncSearchColumns(watched.db);
  expect(said).toEqual([]);
  expect(watched.schemaChanges()).toBe(0);
  expect(watched.statements.every((sql) => /^\s*SELECT/.test(sql))).toBe(true);
  expect(watched.statements.join('\n')).not.toMatch(/information_schema|pg_attribute/);
  expect(watched.statements.length).toBeLessThanOrEqual(4);
});

it('adds a search column the database lacks when its definitions were not checked against it yet', async () => {
  await db.query('ALTER TABLE "Patient" DROP COLUMN "family"');
  // As after an upgrade whose definitions want columns this database has not been checked for.
  await db.query('DELETE FROM kiln_schema_check');
  const said: string[] = [];
  await migrate(db, { log: { info: (message) => said.push(message) } });
  expect(said[0]).toBe('adding search columns to the database schema…');
  const column = await db.query("SELECT 1 FROM pg_attribute WHERE attrelid = '\"Patient\"'::regclass AND attname = 'family' AND NOT attisdropped");
  expect(column.rows).toHaveLength(1);
  const index = await db.query("SELECT 1 FROM pg_indexes WHERE tablename = 'Patient' AND indexname = 'Patient_family'");
  expect(index.rows).toHaveLength(1);
}, 120_000);
