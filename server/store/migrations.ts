// The numbered schema migrations: tables of every resource type and of history, the registry
// generation, the authorization server's tables, and columns added since. Each runs once, in order
// (server/store/schema.ts migrate). Search columns are not here: they follow the search parameter
// definitions at every start (server/store/schema-check.ts).
import { resourceTypes } from '../../resources/definitions.js';
import { AUTH_TABLES_DDL } from '../auth/auth-tables.js';
import { tableName } from './schema-names.js';

export interface Migration {
  version: number;
  name: string;
  /** The statements, separated by `;\n`. */
  sql: () => string;
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

export const MIGRATIONS: Migration[] = [
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
  {
    // The patients each version belongs to (server/README.md, "Patient confinement"): confining a
    // patient's token is then one indexed condition on every query, current or historical. NULL
    // marks a row written before this column existed, filled in at start (backfillPatientCompartments).
    version: 7,
    name: 'patient compartment of every version',
    sql: () =>
      ['resource_history', ...resourceTypes()]
        .flatMap((type) => {
          const table = type === 'resource_history' ? type : tableName(type);
          const index = `${type}_patient_compartment`;
          return [
            `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS patient_compartment text[]`,
            `CREATE INDEX IF NOT EXISTS "${index}" ON ${table} USING gin (patient_compartment)`,
          ];
        })
        .concat(['CREATE INDEX IF NOT EXISTS resource_history_compartment_pending ON resource_history (resource_type) WHERE patient_compartment IS NULL'])
        .join(';\n'),
  },
  {
    // The change feed (server/store/change-feed.ts): one row per committed version, written in the
    // version's own statement, read in (transaction id, sequence) order below the oldest running
    // transaction, so that a transaction committing late is never skipped.
    version: 8,
    name: 'change feed',
    sql: () =>
      [
        `CREATE TABLE IF NOT EXISTS kiln_change (
          seq bigserial PRIMARY KEY,
          xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
          resource_type text NOT NULL,
          id text NOT NULL,
          version_id integer NOT NULL,
          interaction text NOT NULL CHECK (interaction IN ('create', 'update', 'delete')),
          recorded timestamptz NOT NULL DEFAULT now()
        )`,
        'CREATE INDEX IF NOT EXISTS kiln_change_order ON kiln_change (xid, seq)',
        'CREATE INDEX IF NOT EXISTS kiln_change_recorded ON kiln_change (recorded)',
        'CREATE TABLE IF NOT EXISTS kiln_feed_cursor (consumer text PRIMARY KEY, xid xid8 NOT NULL, seq bigint NOT NULL)',
      ].join(';\n'),
  },
  {
    // Who wrote each change (the token's role, subject, patient and scopes; null for Kiln's own
    // work), and what the subscriptions consumer keeps: each subscription's state and its events.
    version: 9,
    name: 'subscriptions',
    sql: () =>
      [
        'ALTER TABLE kiln_change ADD COLUMN IF NOT EXISTS actor jsonb',
        `CREATE TABLE IF NOT EXISTS kiln_subscription (
          id text PRIMARY KEY,
          version_id integer NOT NULL,
          plan jsonb NOT NULL,
          owner jsonb,
          channel_type text NOT NULL,
          status text NOT NULL CHECK (status IN ('requested', 'active', 'error', 'off')),
          error text,
          events_since_start bigint NOT NULL DEFAULT 0,
          delivered_through bigint NOT NULL DEFAULT 0,
          attempts integer NOT NULL DEFAULT 0,
          next_attempt timestamptz NOT NULL DEFAULT now(),
          lease_until timestamptz,
          lease_holder text,
          last_sent timestamptz,
          activated timestamptz
        )`,
        `CREATE TABLE IF NOT EXISTS kiln_subscription_event (
          subscription_id text NOT NULL,
          event_number bigint NOT NULL,
          resource_type text NOT NULL,
          resource_id text NOT NULL,
          version_id integer NOT NULL,
          interaction text NOT NULL,
          occurred timestamptz NOT NULL,
          PRIMARY KEY (subscription_id, event_number)
        )`,
        'CREATE INDEX IF NOT EXISTS kiln_subscription_event_occurred ON kiln_subscription_event (occurred)',
        // Websocket binding tokens ($get-ws-binding-token), by hash: short-lived, bound to their subscriptions.
        'CREATE TABLE IF NOT EXISTS kiln_websocket_token (hash text PRIMARY KEY, subscription_ids text[] NOT NULL, expires timestamptz NOT NULL)',
      ].join(';\n'),
  },
];

/** The statements of one migration, one by one. */
export function migrationStatements(migration: Migration): string[] {
  return migration
    .sql()
    .split(';\n')
    .map((statement) => statement.trim())
    .filter(Boolean);
}
