// After the suite: remove this run's shared files, and on Postgres the databases its test files
// had of their own (test/support/own-database.ts names them after the run's folder).
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import pg from 'pg';

async function dropOwnDatabases(runDir) {
  const prefix = `kiln_own_${basename(runDir).toLowerCase().replace(/[^a-z0-9]/g, '')}_`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    // Each on its own connection: dropping a database of 5,000 tables takes seconds.
    await Promise.all(
      rows.map(async ({ datname }) => {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        } finally {
          await client.end();
        }
      }),
    );
  } finally {
    await admin.end();
  }
}

export default async function globalTeardown() {
  const runDir = process.env.KILN_TEST_RUN_DIR;
  if (!runDir) return;
  if (process.env.DATABASE_URL) await dropOwnDatabases(runDir);
  rmSync(runDir, { recursive: true, force: true });
}
