// Reaching the benchmark's Postgres database: creating it when missing and emptying it.
import pg from 'pg';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/kiln_bench';
export const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';

/** Error codes that mean the server is not there (as opposed to refusing what was asked). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET', '57P03']);

export class PostgresUnreachable extends Error {}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** The URL without its password, for printing. */
export function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    if ((code && UNREACHABLE.has(code)) || /timeout/i.test(message)) {
      throw new PostgresUnreachable(`${code ?? message}`);
    }
    throw error;
  }
}

/** Connects to the database of `url`, creating it first (from the `postgres` database) when it does not exist. */
async function connectCreating(url: string): Promise<pg.Client> {
  try {
    return await connect(url);
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error;
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = await connect(admin.toString());
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(databaseName(url))}`);
  } catch (error) {
    // Another run may have created it meanwhile.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await client.end();
  }
  return connect(url);
}

export class BenchAlreadyRunning extends Error {}

/** Any number, the same in every run: two runs against one database would drop each other's tables. */
const RUN_LOCK = 4242_0601;

export interface BenchDatabase {
  serverVersion: string;
  /** Ends the connection that holds the run lock. */
  release(): Promise<void>;
}

/**
 * Creates the database if needed, takes an advisory lock (held by this connection) that keeps a second run out, and drops
 * everything in it: the server then migrates an empty schema.
 */
export async function resetDatabase(url: string): Promise<BenchDatabase> {
  const client = await connectCreating(url);
  try {
    const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RUN_LOCK]);
    if (!lock.rows[0].locked) throw new BenchAlreadyRunning(`another bench:crud run is using ${redacted(url)}; wait for it to finish`);
    await client.query('DROP SCHEMA IF EXISTS public CASCADE');
    await client.query('CREATE SCHEMA public');
    const version = await client.query<{ server_version: string }>('SHOW server_version');
    return { serverVersion: version.rows[0].server_version, release: () => client.end() };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
