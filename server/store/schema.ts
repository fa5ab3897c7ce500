// The database schema: one table per resource type (current version + typed search columns) and
// one history table for every version of every resource. A start brings the database up to date:
// the numbered migrations (server/store/migrations.ts), then the search columns the definitions
// call for, so a new search parameter needs no hand-written migration. On a database that is up
// to date already, that is two reads (server/store/schema-check.ts).
import { resourceTypes } from '../../resources/definitions.js';
import { indexColumns, type IndexColumn } from '../../resources/search/index-values.js';
import { pairedColumns } from '../../resources/search/paired-keys.js';
import { indexedParameters, type ParameterDefinition } from '../../resources/search/parameters.js';
import type { Database } from './database.js';
import { MIGRATIONS, migrationStatements } from './migrations.js';
import {
  BOOKKEEPING_DDL,
  columnsFingerprint,
  missingColumnStatements,
  recordColumnsChecked,
  runStatements,
  SCHEMA_LOCK,
  schemaState,
  type WantedColumns,
} from './schema-check.js';

export { columnName, tableName } from './schema-names.js';

/** Where schema work says what it is doing: it can take a while, and must not look like a hang. */
export interface SchemaLog {
  info(message: string): void;
}

/** Every search column of a resource table, from the type's indexed search parameters. */
export function searchColumnsOf(resourceType: string): IndexColumn[] {
  const paired = pairedColumns(resourceType).map((c): IndexColumn => ({ name: c.name, sqlType: 'text[]', index: 'gin' }));
  return [...[...indexedParameters(resourceType).values()].flatMap(indexColumns), ...paired];
}

/** SQL type of each search column of a resource table, by column name. */
export function searchColumnTypes(resourceType: string): Map<string, string> {
  return new Map(searchColumnsOf(resourceType).map((column) => [column.name, column.sqlType]));
}

/** The search columns of every type, also for parameters about to be installed (`pending`). */
function wantedColumns(pending?: Map<string, Map<string, ParameterDefinition>>): WantedColumns {
  const wanted: WantedColumns = new Map();
  for (const type of resourceTypes()) {
    const columns = [...searchColumnsOf(type), ...[...(pending?.get(type)?.values() ?? [])].flatMap(indexColumns)];
    wanted.set(
      type,
      columns.filter((column, i) => columns.findIndex((c) => c.name === column.name) === i),
    );
  }
  return wanted;
}

export interface MigrateOptions {
  log?: SchemaLog;
  /**
   * False for tools that need the tables but no search (the admin commands): when every migration
   * is applied they skip working out the search columns, which needs the R4 definitions loaded.
   */
  searchColumns?: boolean;
}

/**
 * Applies the migrations not applied yet, then adds the search columns the tables lack. Each
 * migration runs once, in order, inside one transaction with an advisory lock, so that several
 * Kiln processes starting together against one database do not race.
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<void> {
  const latest = MIGRATIONS.map((m) => m.version);
  const upToDate = (versions: number[]) => latest.every((version, i) => versions[i] === version);
  if (options.searchColumns === false) {
    const state = await schemaState(db, undefined);
    if (upToDate(state.versions)) return;
  }
  const wanted = wantedColumns();
  const fingerprint = columnsFingerprint(wanted);
  const state = await schemaState(db, fingerprint);
  if (upToDate(state.versions) && state.columnsChecked) return;
  await changeSchema(db, wanted, fingerprint, options.log);
}

/** Adds missing search columns, also for parameters about to be installed (`pending`). */
export async function syncSearchColumns(db: Database, pending?: Map<string, Map<string, ParameterDefinition>>, log?: SchemaLog): Promise<void> {
  const wanted = wantedColumns(pending);
  const fingerprint = columnsFingerprint(wanted);
  if ((await schemaState(db, fingerprint)).columnsChecked) return;
  await changeSchema(db, wanted, fingerprint, log);
}

async function changeSchema(db: Database, wanted: WantedColumns, fingerprint: string, log?: SchemaLog): Promise<void> {
  const started = performance.now();
  await db.schemaTransaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
    // Read again under the lock: another process may have done it all meanwhile.
    for (const statement of BOOKKEEPING_DDL) await tx.query(statement);
    const applied = new Set((await tx.query<{ version: number }>('SELECT version FROM kiln_migration')).rows.map((row) => Number(row.version)));
    const pending = MIGRATIONS.filter((migration) => !applied.has(migration.version));
    const statements = [...pending.flatMap(migrationStatements), ...(await missingColumnStatements(tx, wanted))];
    if (statements.length) {
      if (!applied.size) log?.info('creating the database schema (first start)…');
      else if (pending.length) log?.info(`updating the database schema: ${pending.map((m) => m.name).join(', ')}…`);
      else log?.info('adding search columns to the database schema…');
      await runStatements(tx, statements, progressReporter(log));
    }
    for (const migration of pending) await tx.query('INSERT INTO kiln_migration (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    await recordColumnsChecked(tx, fingerprint);
    if (statements.length) log?.info(`database schema ready (${statements.length.toLocaleString('en')} statements in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  });
}

/** One line at each quarter of a long piece of schema work. */
function progressReporter(log: SchemaLog | undefined): (done: number, total: number) => void {
  let reported = 0;
  return (done, total) => {
    if (!log || total < 400 || done === total) return;
    const quarter = Math.floor((done / total) * 4);
    if (quarter <= reported) return;
    reported = quarter;
    log.info(`database schema: ${quarter * 25}% (${done.toLocaleString('en')} of ${total.toLocaleString('en')} statements)`);
  };
}
