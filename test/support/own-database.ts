// A database of its own on the suite's real Postgres (DATABASE_URL), for a test file's Kiln that
// must not share its work with other files' Kilns: every Kiln with notifications on that shares a
// database shares its feed and its subscriptions, so on one shared database a file's Kiln would
// deliver other files' subscriptions (to endpoints long closed) and read their whole backlog of
// changes before its own. Each is a copy of one migrated database made once per run, which takes
// a second or two where making the schema anew takes many; the run's end drops them all.
import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import pg from 'pg';
import { migrate } from '../../server/store/schema.js';
import { openPostgres } from '../../server/store/postgres-database.js';
import { builtOnce } from './embedded-snapshot.js';

/** Names of this run's own databases start with this (test/support/global-teardown.js drops them). */
export function ownDatabasePrefix(runDir = process.env.KILN_TEST_RUN_DIR ?? 'norun'): string {
  return `kiln_own_${basename(runDir).toLowerCase().replace(/[^a-z0-9]/g, '')}`;
}

function withDatabase(name: string): string {
  const url = new URL(process.env.DATABASE_URL as string);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer<T>(use: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.end();
  }
}

/** The migrated database every own database is copied from, made by the first file that asks. */
async function templateName(): Promise<string> {
  const name = `${ownDatabasePrefix()}_template`;
  const built = await builtOnce('postgres-template', async (marker) => {
    await onServer((admin) => admin.query(`CREATE DATABASE ${name}`));
    const db = await openPostgres(withDatabase(name), { poolSize: 1, statementTimeoutMs: 0, connectTimeoutMs: 10_000 });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    await writeFile(marker, name);
  });
  if (!built) throw new Error('an own database needs the test run (jest) and its run folder');
  return name;
}

/**
 * On Postgres, `DATABASE_URL` for a new database of its own, with Kiln's schema made; on the
 * embedded database nothing (each in-memory database is already its own).
 */
export async function ownDatabase(): Promise<Record<string, string>> {
  if (!process.env.DATABASE_URL) return {};
  const template = await templateName();
  const name = `${ownDatabasePrefix()}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  await onServer((admin) => admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return { DATABASE_URL: withDatabase(name) };
}
