// A database that cannot be reached is answered 503 with Retry-After and an OperationOutcome
// (code transient), never 500 and never a hang, and Kiln recovers by itself when it returns.
// First the failures the `pg` driver really raises (a port that refuses, a server that drops the
// connection, one that never answers), through Kiln's error handler; then, on the real Postgres,
// a running Kiln behind a TCP proxy that stops and freezes the database under it.
import express from 'express';
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import request from 'supertest';
import { errorHandler } from '../../server/http/error-handler.js';
import { startKiln, stopKiln, type SpawnedKiln } from '../support/kiln-process.js';
import { suitePostgres, suitePostgresAddress } from './support/postgres.js';
import { TcpProxy } from './support/tcp-proxy.js';

/** A local server that treats every connection as `behaviour` says. */
async function fakeDatabase(behaviour: 'drop' | 'silent'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (behaviour === 'drop') socket.destroy();
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return {
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function closedPort(): Promise<number> {
  const { port, close } = await fakeDatabase('drop');
  await close();
  return port;
}

/** The error a `pg` pool raises for one statement against `port`. */
async function driverFailure(port: number): Promise<unknown> {
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'kiln', database: 'kiln', max: 1, connectionTimeoutMillis: 500 });
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await pool.end();
  }
}

/** What Kiln answers to a request that failed with `error`. */
function answerTo(error: unknown) {
  const app = express();
  app.get('/fhir/Patient/1', () => {
    throw error;
  });
  app.use(errorHandler);
  return request(app).get('/fhir/Patient/1');
}

function expectUnavailableAnswer(res: { status: number; headers: Record<string, string>; body: { resourceType?: string; issue?: { code: string }[] } }) {
  expect(res.status).toBe(503);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue?.[0].code).toBe('transient');
}

describe('what the driver raises when Postgres cannot be reached', () => {
  it.each([
    ['refuses connections', async () => ({ port: await closedPort(), close: async () => undefined })],
    ['drops each connection', () => fakeDatabase('drop')],
    ['accepts connections and never answers', () => fakeDatabase('silent')],
  ])('is answered 503 with Retry-After and an OperationOutcome when the server %s', async (_what, open) => {
    const database = await open();
    try {
      const error = await driverFailure(database.port);
      expect(error).toHaveProperty('message');
      expectUnavailableAnswer(await answerTo(error));
    } finally {
      await database.close();
    }
  });

  it('still answers 500 for a statement that failed on its own merits', async () => {
    const res = await answerTo(Object.assign(new Error('column "x" does not exist'), { code: '42703' }));
    expect(res.status).toBe(500);
    expect(res.headers['retry-after']).toBeUndefined();
  });
});

// Needs the real Postgres: CI runs the suite against one too.
if (suitePostgres) {
  describe('a running Kiln whose Postgres goes away', () => {
    let proxy: TcpProxy;
    let kiln: SpawnedKiln;
    const patient = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Outage' }] });
    const create = () => fetch(`${kiln.fhirUrl}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: patient });

    beforeAll(async () => {
      proxy = await TcpProxy.start(suitePostgresAddress());
      // Short deadlines, so that a frozen database is noticed in seconds rather than the default half-minute.
      kiln = await startKiln({ DATABASE_URL: proxy.route(suitePostgres as string), KILN_STATEMENT_TIMEOUT_MS: '1500', DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_POOL_SIZE: '4' });
    }, 120_000);
    afterAll(async () => {
      if (kiln) await stopKiln(kiln, 'SIGKILL');
      await proxy?.close();
    });

    /** Sends one of each kind of request; resolves to the answers. */
    async function requests(id: string): Promise<Response[]> {
      return Promise.all([
        fetch(`${kiln.fhirUrl}/Patient/${id}`),
        create(),
        fetch(`${kiln.fhirUrl}/Patient?family=outage&_count=1`),
        fetch(`${kiln.fhirUrl}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: JSON.parse(patient), request: { method: 'POST', url: 'Patient' } }] }) }),
      ]);
    }

    async function expectUnavailable(answers: Response[]): Promise<void> {
      for (const answer of answers) {
        const body = (await answer.json()) as { resourceType?: string; issue?: { code: string }[] };
        expectUnavailableAnswer({ status: answer.status, headers: { 'retry-after': answer.headers.get('retry-after') ?? '' }, body });
      }
    }

    async function untilReady(): Promise<void> {
      for (;;) {
        const ready = await fetch(`${kiln.origin}/readyz`).then((r) => r.status);
        if (ready === 200) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }

    async function expectServing(): Promise<void> {
      const created = await create();
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };
      expect((await fetch(`${kiln.fhirUrl}/Patient/${id}`)).status).toBe(200);
    }

    it('answers 503 with Retry-After and an OperationOutcome while Postgres is stopped, and serves again when it is back', async () => {
      const created = await create();
      expect(created.status).toBe(201);
      const { id } = (await created.json()) as { id: string };

      await proxy.down();
      try {
        await expectUnavailable(await requests(id));
        const ready = await fetch(`${kiln.origin}/readyz`);
        expect(ready.status).toBe(503);
        expect(ready.headers.get('retry-after')).toBeTruthy();
        // Repeated requests keep getting the same answer, not a process that gave up.
        await expectUnavailable(await requests(id));
      } finally {
        await proxy.up();
      }
      await untilReady();
      await expectServing();
      expect((await fetch(`${kiln.fhirUrl}/Patient/${id}`)).status).toBe(200);
    }, 120_000);

    it('answers /readyz within 2 s and requests with 503 while Postgres is frozen, and serves again after', async () => {
      await expectServing();
      proxy.freeze();
      try {
        for (let probe = 0; probe < 3; probe++) {
          const started = performance.now();
          const ready = await fetch(`${kiln.origin}/readyz`, { signal: AbortSignal.timeout(10_000) });
          const took = performance.now() - started;
          expect(ready.status).toBe(503);
          expect(took).toBeLessThan(2_000);
        }
        // Requests wait for the connection or statement deadline, then answer: none hangs.
        await expectUnavailable(await requests('frozen'));
      } finally {
        proxy.thaw();
      }
      await untilReady();
      await expectServing();
    }, 120_000);
  });
}
