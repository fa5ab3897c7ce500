// A database of its own on the real Postgres of the suite (DATABASE_URL), for tests of a first
// start, dropped afterwards.
import pg from 'pg';

export const suitePostgres = process.env.DATABASE_URL;

/** Creates an empty database beside the suite's; resolves to its URL. */
export async function createFreshDatabase(prefix: string): Promise<string> {
  const url = new URL(suitePostgres as string);
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: suitePostgres });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** The host and port of the suite's Postgres, for a proxy in front of it. */
export function suitePostgresAddress(): { host: string; port: number } {
  const url = new URL(suitePostgres as string);
  return { host: url.hostname || '127.0.0.1', port: Number(url.port || 5432) };
}
