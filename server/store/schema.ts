// The database schema: one table per resource type (current version + typed search columns)
// and one history table for every version of every resource.
import { resourceTypes } from '../../resources/definitions.js';
import { searchColumns } from '../../resources/search-columns.js';
import type { Database } from './database.js';

/** Identifiers reach SQL only through this check, never from a request as text. */
export function tableName(resourceType: string): string {
  if (!/^[A-Z][A-Za-z]+$/.test(resourceType)) throw new Error(`not a resource type: ${resourceType}`);
  return `"${resourceType}"`;
}

export function columnName(code: string): string {
  if (!/^[a-z][a-z0-9-]*$/.test(code)) throw new Error(`not a search parameter code: ${code}`);
  return `"${code}"`;
}

/** SQL type of each search column of a resource table, by parameter code. */
export function searchColumnTypes(resourceType: string): Map<string, string> {
  return new Map(searchColumns(resourceType).map((column) => [column.code, column.sqlType]));
}

function resourceTableDdl(resourceType: string): string {
  const table = tableName(resourceType);
  const columns = searchColumns(resourceType);
  const lines = [
    `CREATE TABLE IF NOT EXISTS ${table} (`,
    '  id text PRIMARY KEY,',
    '  version_id integer NOT NULL,',
    '  last_updated timestamptz NOT NULL,',
    '  deleted boolean NOT NULL DEFAULT false,',
    ...columns.map((column) => `  ${columnName(column.code)} ${column.sqlType},`),
    '  content text',
    ');',
    `CREATE INDEX IF NOT EXISTS "${resourceType}_last_updated" ON ${table} (last_updated);`,
    ...columns.map(
      (column) => `CREATE INDEX IF NOT EXISTS "${resourceType}_${column.code}" ON ${table} USING gin (${columnName(column.code)});`,
    ),
  ];
  return lines.join('\n');
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
];

export async function migrate(db: Database): Promise<void> {
  await db.exec('CREATE TABLE IF NOT EXISTS kiln_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(4242001)');
    const applied = await tx.query<{ version: number }>('SELECT version FROM kiln_migration');
    const done = new Set(applied.rows.map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      for (const statement of migration.sql().split(';\n').map((s) => s.trim()).filter(Boolean)) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO kiln_migration (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    }
  });
}
