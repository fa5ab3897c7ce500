// How a start tells, in two reads and without a lock, that the database already has the schema it
// needs: every numbered migration applied, and a fingerprint of the wanted search columns recorded
// as checked. Only when one of them is missing does it take the schema lock, read the catalog and
// add what is missing, in batches of statements, saying how far it got.
import { createHash } from 'node:crypto';
import type { IndexColumn } from '../../resources/search/index-values.js';
import type { Queryable, SchemaTransaction } from './database.js';
import { columnName, searchIndexName, tableName } from './schema-names.js';

/** Search columns each resource type needs, each name once. */
export type WantedColumns = Map<string, IndexColumn[]>;

/** The advisory lock every schema change takes, so processes starting together do not race. */
export const SCHEMA_LOCK = 4242001;

/** The tables that record what was done: numbered migrations, and search column sets found complete. */
export const BOOKKEEPING_DDL = [
  'CREATE TABLE IF NOT EXISTS kiln_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
  'CREATE TABLE IF NOT EXISTS kiln_schema_check (fingerprint text PRIMARY KEY, checked timestamptz NOT NULL DEFAULT now())',
];

/**
 * Names the wanted search columns. Columns are only ever added, so once a set was found complete
 * it stays complete; several sets (with and without custom parameters) may be recorded.
 */
export function columnsFingerprint(wanted: WantedColumns): string {
  const hash = createHash('sha256');
  for (const [type, columns] of [...wanted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(`${type}(${columns.map((c) => `${c.name} ${c.sqlType} ${c.index}`).join(',')})`);
  }
  return hash.digest('hex');
}

export interface SchemaState {
  /** Migrations applied, in order; empty on a database Kiln never ran on. */
  versions: number[];
  /** Whether the wanted search columns were found complete before. */
  columnsChecked: boolean;
}

/** What the database says of its schema, without a lock or a change. */
export async function schemaState(q: Queryable, fingerprint: string | undefined): Promise<SchemaState> {
  const tables = await q.query<{ migrations: boolean; checks: boolean }>(
    "SELECT to_regclass('kiln_migration') IS NOT NULL AS migrations, to_regclass('kiln_schema_check') IS NOT NULL AS checks",
  );
  const { migrations, checks } = tables.rows[0];
  if (!migrations) return { versions: [], columnsChecked: false };
  const lookup = checks && fingerprint !== undefined;
  const state = await q.query<{ versions: number[] | null; checked: boolean }>(
    `SELECT (SELECT array_agg(version ORDER BY version) FROM kiln_migration) AS versions,
     ${lookup ? 'EXISTS (SELECT 1 FROM kiln_schema_check WHERE fingerprint = $1)' : 'false'} AS checked`,
    lookup ? [fingerprint] : [],
  );
  return { versions: (state.rows[0].versions ?? []).map(Number), columnsChecked: state.rows[0].checked };
}

export async function recordColumnsChecked(tx: Queryable, fingerprint: string): Promise<void> {
  await tx.query('INSERT INTO kiln_schema_check (fingerprint) VALUES ($1) ON CONFLICT DO NOTHING', [fingerprint]);
}

/**
 * The statements that add the wanted search columns the tables lack, each with its partial index
 * (non-null rows only: a write pays only for the parameters the resource has values for). Reads
 * the catalog itself rather than information_schema, which costs several times more.
 */
export async function missingColumnStatements(tx: Queryable, wanted: WantedColumns): Promise<string[]> {
  const existing = await tx.query<{ table_name: string; column_name: string }>(
    `SELECT c.relname AS table_name, a.attname AS column_name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind IN ('r', 'p')
     AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  const have = new Set(existing.rows.map((row) => `${row.table_name}.${row.column_name}`));
  const statements: string[] = [];
  for (const [type, columns] of wanted) {
    const missing = columns.filter((column) => !have.has(`${type}.${column.name}`));
    if (!missing.length) continue;
    statements.push(`ALTER TABLE ${tableName(type)} ${missing.map((c) => `ADD COLUMN IF NOT EXISTS ${columnName(c.name)} ${c.sqlType}`).join(', ')}`);
    for (const c of missing) {
      statements.push(`CREATE INDEX IF NOT EXISTS ${searchIndexName(type, c.name)} ON ${tableName(type)} USING ${c.index} (${columnName(c.name)}) WHERE ${columnName(c.name)} IS NOT NULL`);
    }
  }
  return statements;
}

/** Statements sent together: one round trip for many saves half the time of a first start. */
const BATCH = 100;

/** Runs `statements` in order, several per round trip, reporting how many are done after each batch. */
export async function runStatements(tx: SchemaTransaction, statements: string[], progress: (done: number, total: number) => void): Promise<void> {
  for (let start = 0; start < statements.length; start += BATCH) {
    const batch = statements.slice(start, start + BATCH);
    await tx.exec(batch.join(';\n'));
    progress(start + batch.length, statements.length);
  }
}
