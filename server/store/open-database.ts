// Chooses the database: a real Postgres when DATABASE_URL is set, else the embedded one (locked
// for this process). Waits for a Postgres that is not up yet, then brings the schema up to date.
import { mkdirSync, readdirSync } from 'node:fs';
import type { Database } from './database.js';
import { lockDataFolderWhenFree } from './data-folder-lock.js';
import { openPglite } from './pglite-database.js';
import { openPostgres } from './postgres-database.js';
import { migrate, type SchemaLog } from './schema.js';
import { untilAvailable, type WaitLog } from './wait-for-database.js';

export interface DatabaseSettings {
  url?: string;
  poolSize: number;
  /** Folder of the embedded database; undefined keeps it in memory. */
  dataDir?: string;
  /** Longest one statement may run before the database cancels it. */
  statementTimeoutMs: number;
  /** Longest a new Postgres connection may take to open (default 5 s). */
  connectTimeoutMs?: number;
  /** How long to wait for a Postgres that does not answer yet (default: not at all). */
  waitSeconds?: number;
  /** An in-memory embedded database may start from a snapshot of a migrated one. */
  embeddedSnapshot?: Blob;
  /** What holds the embedded database's folder, as other processes are told: `the Kiln server`. */
  holder?: string;
  /** False for tools that only need the tables, not the search columns (server/store/schema.ts). */
  searchColumns?: boolean;
  log?: SchemaLog & WaitLog;
}

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  let db: Database;
  if (settings.url) {
    const url = settings.url;
    const postgres = { poolSize: settings.poolSize, statementTimeoutMs: settings.statementTimeoutMs, connectTimeoutMs: settings.connectTimeoutMs ?? 5_000 };
    db = await untilAvailable(() => openPostgres(url, postgres), settings.waitSeconds ?? 0, settings.log);
  } else {
    db = await openEmbedded(settings);
  }
  try {
    await migrate(db, { log: settings.log, searchColumns: settings.searchColumns });
    if (db.kind === 'pglite') await db.exec(`SET statement_timeout = ${Math.round(settings.statementTimeoutMs)}`);
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return db;
}

async function openEmbedded(settings: DatabaseSettings): Promise<Database> {
  const { dataDir } = settings;
  if (!dataDir) return openPglite(undefined, settings.embeddedSnapshot);
  mkdirSync(dataDir, { recursive: true });
  const lock = await lockDataFolderWhenFree(dataDir, settings.holder ?? `process ${process.argv.slice(1).join(' ')}`, settings.waitSeconds ?? 0, settings.log);
  try {
    // Initialising a new embedded database takes seconds before the schema is even started on.
    if (readdirSync(dataDir).every((name) => name.startsWith('kiln.'))) settings.log?.info(`initialising the embedded database in ${dataDir} (first start)…`);
    const db = await openPglite(dataDir);
    return {
      ...db,
      close: async () => {
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}
