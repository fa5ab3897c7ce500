// The database schema: one table per resource type (current version + typed search columns)
// and one history table for every version of every resource.
import { resourceTypes } from '../../resources/definitions.js';
import { indexColumns, type IndexColumn } from '../../resources/search/index-values.js';
import { pairedColumns } from '../../resources/search/paired-keys.js';
import { indexedParameters, type ParameterDefinition } from '../../resources/search/parameters.js';
import type { Database, Queryable } from './database.js';
import { AUTH_TABLES_DDL } from '../auth/auth-tables.js';

/** Identifiers reach SQL only through this check, never from a request as text. */
export function tableName(resourceType: string): string {
  if (!/^[A-Z][A-Za-z]+$/.test(resourceType)) throw new Error(`not a resource type: ${resourceType}`);
  return `"${resourceType}"`;
}

export function columnName(name: string): string {
  if (!/^_?[a-z][a-zA-Z0-9-]*(:[a-z]+)?$/.test(name)) throw new Error(`not a search column: ${name}`);
  return `"${name}"`;
}

/** Every search column of a resource table, from the type's indexed search parameters. */
export function searchColumnsOf(resourceType: string) {
  const paired = pairedColumns(resourceType).map((c): IndexColumn => ({ name: c.name, sqlType: 'text[]', index: 'gin' }));
  return [...[...indexedParameters(resourceType).values()].flatMap(indexColumns), ...paired];
}

/** SQL type of each search column of a resource table, by column name. */
export function searchColumnTypes(resourceType: string): Map<string, string> {
  return new Map(searchColumnsOf(resourceType).map((column) => [column.name, column.sqlType]));
}

function resourceTableDdl(resourceType: string): string {
  const table = tableName(resourceType);
  return [
    `CREATE TABLE IF NOT EXISTS ${table} (`,
    '  id text PRIMARY KEY,',
    '  version_id integer NOT NULL,',
    '  last_updated timestamptz NOT NULL,',
    '  deleted boolean NOT NULL DEFAULT false,',
    '  content text',
    ');',
    `CREATE INDEX IF NOT EXISTS "${resourceType}_last_updated" ON ${table} (last_updated);`,
  ].join('\n');
}

/**
 * Adds the search columns and indexes the definitions call for and the database lacks. Runs at
 * every start, so a new search parameter needs no hand-written migration. Indexes are partial
 * (non-null rows only): a write pays only for the parameters the resource has values for.
 */
/** Adds missing search columns, also for parameters about to be installed (`pending`). */
export async function syncSearchColumns(db: Database, pending?: Map<string, Map<string, ParameterDefinition>>): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(4242001)');
    await tx.query('SET LOCAL statement_timeout = 0');
    await addMissingSearchColumns(tx, pending);
  });
}

async function addMissingSearchColumns(tx: Queryable, pending?: Map<string, Map<string, ParameterDefinition>>): Promise<void> {
  const existing = await tx.query<{ table_name: string; column_name: string }>(
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()",
  );
  const have = new Set(existing.rows.map((row) => `${row.table_name}.${row.column_name}`));
  const statements: string[] = [];
  for (const type of resourceTypes()) {
    const wanted = [...searchColumnsOf(type), ...[...(pending?.get(type)?.values() ?? [])].flatMap(indexColumns)];
    const missing = wanted.filter((column, i) => !have.has(`${type}.${column.name}`) && wanted.findIndex((c) => c.name === column.name) === i);
    if (!missing.length) continue;
    statements.push(`ALTER TABLE ${tableName(type)} ${missing.map((c) => `ADD COLUMN IF NOT EXISTS ${columnName(c.name)} ${c.sqlType}`).join(', ')}`);
    for (const c of missing) {
      const index = `${type}_${c.name}`.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 63);
      statements.push(`CREATE INDEX IF NOT EXISTS "${index}" ON ${tableName(type)} USING ${c.index} (${columnName(c.name)}) WHERE ${columnName(c.name)} IS NOT NULL`);
    }
  }
  for (const statement of statements) await tx.query(statement);
}

const HISTORY_DDL = `
CREATE TABLE IF NOT EXISTS resource_history (
  resource_type text NOT NULL,
  id text NOT NULL,
  version_id integer NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted boolean NOT NULL,
  method text NOT NULL,
  url text NOT NULL,
  content text,
  PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX IF NOT EXISTS resource_history_time ON resource_history (last_updated, resource_type, id, version_id);
CREATE INDEX IF NOT EXISTS resource_history_type_time ON resource_history (resource_type, last_updated, id, version_id);
`;

/**
 * Each migration runs once, in order, inside one transaction with an advisory lock so that
 * several Kiln processes starting together against one database do not race.
 */
const MIGRATIONS: { version: number; name: string; sql: () => string }[] = [
  {
    version: 1,
    name: 'resource tables and history',
    sql: () => [HISTORY_DDL, ...resourceTypes().map(resourceTableDdl)].join('\n'),
  },
  {
    version: 2,
    name: 'search parameter registry generation',
    sql: () => 'CREATE TABLE IF NOT EXISTS kiln_registry (id integer PRIMARY KEY, generation bigint NOT NULL)',
  },
  {
    // With its search columns a row outgrows the TOAST threshold, and Postgres would move the
    // resource JSON out of line: every read would then fetch it from the TOAST table. Kept in
    // line (compressed when large), a read of a resource touches only its row.
    version: 3,
    name: 'resource JSON kept in line',
    sql: () =>
      ['resource_history', ...resourceTypes().map((type) => tableName(type))]
        .map((table) => `ALTER TABLE ${table} ALTER COLUMN content SET STORAGE MAIN`)
        .join(';\n'),
  },
  {
    // Contained resources are indexed as rows of their own type, marked with their container
    // (`Observation/123`), so that _contained can search them with the same columns. The column
    // name has an underscore, which no search parameter code has (Specimen has one `container`).
    version: 5,
    name: 'contained resources',
    sql: () =>
      resourceTypes()
        .flatMap((type) => [
          `ALTER TABLE ${tableName(type)} ADD COLUMN IF NOT EXISTS contained_in text`,
          `CREATE INDEX IF NOT EXISTS "${type}_contained_in" ON ${tableName(type)} (contained_in) WHERE contained_in IS NOT NULL`,
        ])
        .join(';\n'),
  },
  {
    version: 6,
    name: 'authorization server',
    sql: () => AUTH_TABLES_DDL,
  },
];

export async function migrate(db: Database): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS kiln_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(4242001)');
    // Building indexes on a large table may take longer than any request is allowed to.
    await tx.query('SET LOCAL statement_timeout = 0');
    const applied = await tx.query<{ version: number }>('SELECT version FROM kiln_migration');
    const done = new Set(applied.rows.map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.sql().split(';\n').map((s) => s.trim()).filter(Boolean)) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO kiln_migration (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    }
    await addMissingSearchColumns(tx);
  });
}
