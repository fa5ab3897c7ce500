// Chooses the database: a real Postgres when DATABASE_URL is set, else the embedded one.
import { mkdirSync } from 'node:fs';
import type { Database } from './database.js';
import { openPglite } from './pglite-database.js';
import { openPostgres } from './postgres-database.js';
import { migrate } from './schema.js';

export interface DatabaseSettings {
  url?: string;
  poolSize: number;
  /** Folder of the embedded database; undefined keeps it in memory. */
  dataDir?: string;
  /** Longest one statement may run before the database cancels it. */
  statementTimeoutMs: number;
  /** An in-memory embedded database may start from a snapshot of a migrated one. */
  embeddedSnapshot?: Blob;
}

export async function openDatabase(settings: DatabaseSettings): Promise<Database> {
  let db: Database;
  if (settings.url) {
    db = await openPostgres(settings.url, settings.poolSize, settings.statementTimeoutMs);
  } else {
    if (settings.dataDir) mkdirSync(settings.dataDir, { recursive: true });
    db = await openPglite(settings.dataDir, settings.embeddedSnapshot);
  }
  // Migrations may take longer than any request should.
  await migrate(db);
  if (db.kind === 'pglite') await db.exec(`SET statement_timeout = ${Math.round(settings.statementTimeoutMs)}`);
  return db;
}
