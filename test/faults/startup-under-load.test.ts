// Requests sent while Kiln starts (a first start, authorization on: schema, signing key and all)
// each get an answer, 200 or 503 with Retry-After, never a hang or a reset. A connection refused
// because nothing listens yet is not a request Kiln accepted, and is counted apart. On the embedded
// database one process; on Postgres two workers, where a worker still starting must not be handed
// connections.
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnKiln, stopKiln, waitUntilReady, type SpawnedKiln } from '../support/kiln-process.js';
import { createFreshDatabase, dropDatabase, suitePostgres } from './support/postgres.js';

type Outcome = { status: number; retryAfter?: string } | { error: string };

/** One request on a connection of its own; a hang is cut short after 30 s and reported as one. */
function probe(port: number, path: string): Promise<Outcome> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' }, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
      res.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in 30 s'), { code: 'HANG' })));
    req.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
    req.end();
  });
}

interface Counts {
  ok: number;
  starting: number;
  refused: number;
  failures: string[];
}

/** Clients that keep sending until told to stop, counting what came back. */
function load(port: number, clients: number): { stop(): Promise<Counts> } {
  const counts: Counts = { ok: 0, starting: 0, refused: 0, failures: [] };
  let running = true;
  const paths = ['/fhir/metadata', '/readyz', '/fhir/metadata?_summary=true'];
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let i = 0; running; i++) {
      const path = paths[(client + i) % paths.length];
      const outcome = await probe(port, path);
      if ('error' in outcome) {
        if (outcome.error === 'ECONNREFUSED') {
          counts.refused++;
          await new Promise((resolve) => setTimeout(resolve, 20));
        } else counts.failures.push(`${path}: ${outcome.error}`);
      } else if (outcome.status === 200) counts.ok++;
      else if (outcome.status === 503 && Number(outcome.retryAfter) > 0) counts.starting++;
      else counts.failures.push(`${path}: ${outcome.status} (Retry-After ${outcome.retryAfter ?? 'none'})`);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

let folder: string;
let database: string | undefined;
let kiln: SpawnedKiln | undefined;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'kiln-startup-load-'));
});
afterEach(async () => {
  if (kiln) await stopKiln(kiln, 'SIGKILL');
  if (database) await dropDatabase(database);
  kiln = database = undefined;
  rmSync(folder, { recursive: true, force: true });
});

it(`answers every request it accepts while it starts (${suitePostgres ? 'Postgres, two workers' : 'embedded database'})`, async () => {
  database = suitePostgres ? await createFreshDatabase('kiln_startup_load') : undefined;
  const env: Record<string, string> = {
    ...(database ? { DATABASE_URL: database, KILN_WORKERS: '2' } : { DATABASE_URL: '', KILN_DATA_DIR: join(folder, 'data') }),
    KILN_AUTH: 'on',
    KILN_AUDIT_JOURNAL_DIR: join(folder, 'journal'),
  };
  const port = await freePort();
  const traffic = load(port, 8);
  kiln = await spawnKiln(env, { port });
  await waitUntilReady(kiln);
  // And a while after, as the other workers come up.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const counts = await traffic.stop();
  console.log(
    `while starting: ${counts.ok} answered 200, ${counts.starting} answered 503 with Retry-After, ` +
      `${counts.refused} refused before the port was open, ${counts.failures.length} hung, reset or answered otherwise`,
  );
  expect(counts.failures).toEqual([]);
  expect(counts.ok).toBeGreaterThan(0);
  if (!database) expect(counts.starting).toBeGreaterThan(0);
}, 180_000);
