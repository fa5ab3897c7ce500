// A first start that meets a database not up yet, or several workers at once: Kiln waits for the
// database (one line per attempt) and gives up after KILN_DATABASE_WAIT_SECONDS with one clear
// line; workers starting together on a fresh database create the schema, the first administrator
// and the signing key once, and none of them crashes.
import pg from 'pg';
import { freePort, spawnKiln, stopKiln, waitUntilReady, type SpawnedKiln } from '../support/kiln-process.js';
import { createFreshDatabase, dropDatabase, suitePostgres, suitePostgresAddress } from './support/postgres.js';
import { TcpProxy } from './support/tcp-proxy.js';

const CRASHED = /worker stopped unexpectedly|could not start/;

async function exited(kiln: SpawnedKiln): Promise<number | null> {
  if (kiln.process.exitCode === null && kiln.process.signalCode === null) await new Promise((done) => kiln.process.once('exit', done));
  return kiln.process.exitCode;
}

async function untilOutput(kiln: SpawnedKiln, pattern: RegExp, times = 1): Promise<void> {
  while ((kiln.output().match(new RegExp(pattern.source, 'g')) ?? []).length < times) {
    if (kiln.process.exitCode !== null) throw new Error(`Kiln exited with ${kiln.process.exitCode}: ${kiln.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it.each([
  ['one process', '1'],
  ['two workers, which are not started again and again', '2'],
])('waits for a database that does not answer, one line per attempt, then gives up with one clear line (%s)', async (_what, workers) => {
  const nothing = await freePort();
  const kiln = await spawnKiln({ DATABASE_URL: `postgres://kiln@127.0.0.1:${nothing}/kiln`, KILN_DATABASE_WAIT_SECONDS: '3', KILN_WORKERS: workers });
  const stopped = await Promise.race([exited(kiln), new Promise<string>((done) => setTimeout(() => done('still running after 30 s'), 30_000).unref())]);
  expect(stopped).toBe(1);
  const attempts = kiln.output().match(/waiting for the database \(attempt \d+: ECONNREFUSED\)/g) ?? [];
  console.log(`${workers} process(es): ${attempts.length} attempts logged before giving up after 3 s`);
  expect(attempts.length).toBeGreaterThanOrEqual(2 * Number(workers));
  expect(kiln.output()).toMatch(/^Kiln could not start: the database did not answer within 3 s \(KILN_DATABASE_WAIT_SECONDS\): ECONNREFUSED$/m);
  expect(kiln.output()).not.toMatch(/starting another/);
}, 60_000);

// Needs the real Postgres: CI runs the suite against one too.
if (suitePostgres) {
  describe('on Postgres', () => {
    let proxy: TcpProxy | undefined;
    let kiln: SpawnedKiln | undefined;
    let database: string | undefined;
    afterEach(async () => {
      if (kiln) await stopKiln(kiln, 'SIGKILL');
      await proxy?.close();
      if (database) await dropDatabase(database);
      kiln = proxy = database = undefined;
    });

    it('starts its workers while Postgres is down and serves once it is up, none of them exiting', async () => {
      proxy = await TcpProxy.start(suitePostgresAddress());
      await proxy.down();
      kiln = await spawnKiln({ DATABASE_URL: proxy.route(suitePostgres as string), KILN_WORKERS: '2', KILN_DATABASE_WAIT_SECONDS: '120' });
      // Each worker says it waits, and keeps waiting.
      await untilOutput(kiln, /waiting for the database \(attempt \d+/, 4);
      await proxy.up();
      await waitUntilReady(kiln);
      expect((await fetch(`${kiln.fhirUrl}/metadata`)).status).toBe(200);
      expect(kiln.output()).not.toMatch(CRASHED);
    }, 180_000);

    it('lets workers starting together on a fresh database create the first administrator and the signing key once', async () => {
      database = await createFreshDatabase('kiln_first_start');
      const admin = { KILN_ADMIN_USERNAME: 'first-admin', KILN_ADMIN_PASSWORD: 'a long enough password' };
      kiln = await spawnKiln({ DATABASE_URL: database, KILN_WORKERS: '3', KILN_AUTH: 'on', ...admin });
      await waitUntilReady(kiln);
      const client = new pg.Client({ connectionString: database });
      await client.connect();
      try {
        // Every worker got as far as authorization (each listens for revocations), then had a
        // moment to create the administrator, or fail to.
        for (;;) {
          const listening = await client.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE 'kiln listener %'");
          if (Number(listening.rows[0].n) >= 3 || CRASHED.test(kiln.output())) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect(kiln.output()).not.toMatch(CRASHED);
        const admins = await client.query<{ n: string }>("SELECT count(*) AS n FROM kiln_user WHERE role = 'admin'");
        const keys = await client.query<{ n: string }>('SELECT count(*) AS n FROM kiln_signing_key');
        expect([Number(admins.rows[0].n), Number(keys.rows[0].n)]).toEqual([1, 1]);
      } finally {
        await client.end();
      }
      expect(kiln.process.exitCode).toBeNull();
    }, 180_000);
  });
}
