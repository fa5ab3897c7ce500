// The requests per minute of one address and of one client application (KILN_RATE_LIMIT_PER_MINUTE)
// hold for a whole Kiln, however many worker processes answer: on Postgres a Kiln of two workers
// (`npm start` with KILN_WORKERS=2), each request on a connection of its own, which the primary
// hands to the workers in turn. On the embedded database Kiln is one process, and the test checks
// that process's limits.
import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { createClient } from '../../server/auth/clients.js';
import { createUser } from '../../server/auth/users.js';
import type { Queryable } from '../../server/store/database.js';
import { startKiln, stopKiln, type KilnProcess } from '../support/kiln-process.js';
import { uniqueId } from '../support/test-server.js';
import { newClient, newUser, ownLoopbackAddress, PASSWORD, signIn, startAuthServer, type Reachable } from './support.js';

const LIMIT = 10;
const REQUESTS = 2 * LIMIT;

/** A GET on a connection of its own, from the loopback address `from`; answers the status. */
function getFrom(kiln: Reachable, path: string, from: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL(`${kiln.origin}${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname, localAddress: from, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Waits until every worker answers. A worker takes connections as soon as it listens, which is
 * before it can answer them (server/server.ts): one still starting would keep a request waiting.
 * The primary hands connections to the workers in turn, so answers to several fresh connections
 * in a row mean that each worker answers.
 */
async function everyWorkerAnswers(kiln: Reachable): Promise<void> {
  const url = new URL(`${kiln.origin}/readyz`);
  let inARow = 0;
  for (let attempt = 0; inARow < 6; attempt++) {
    if (attempt > 600) throw new Error('the workers of Kiln did not all answer');
    const ready = await new Promise<boolean>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: url.port, path: url.pathname, agent: false, timeout: 500 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
    inARow = ready ? inARow + 1 : 0;
  }
}

interface UnderTest extends Reachable {
  /** A practitioner signed in to a new app: its access token. */
  token(): Promise<string>;
  stop(): Promise<void>;
}

async function kilnOfTwoWorkers(): Promise<UnderTest> {
  const kiln: KilnProcess = await startKiln({
    KILN_AUTH: 'on',
    KILN_WORKERS: '2',
    KILN_RATE_LIMIT_PER_MINUTE: String(LIMIT),
    KILN_AUDIT_JOURNAL_DIR: mkdtempSync(join(process.env.KILN_TEST_RUN_DIR ?? tmpdir(), 'audit-journal-')),
  });
  await everyWorkerAnswers(kiln);
  return {
    origin: kiln.origin,
    fhirUrl: kiln.fhirUrl,
    async token() {
      // Registered straight in the database the workers share, as `kiln admin` does.
      const db = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await db.connect();
      try {
        const q = db as unknown as Queryable;
        const { client } = await createClient(q, { name: 'Counted app', kind: 'public', redirectUris: ['http://localhost:9999/callback'], scope: 'user/*.rs' });
        const user = await createUser(q, { username: uniqueId('practitioner'), password: PASSWORD, role: 'practitioner', fhirUser: 'Practitioner/counted' });
        return (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.rs', username: user.username })).access_token;
      } finally {
        await db.end();
      }
    },
    stop: () => stopKiln(kiln, 'SIGTERM'),
  };
}

async function kilnOfOneProcess(): Promise<UnderTest> {
  const kiln = await startAuthServer({ KILN_RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  return {
    origin: kiln.origin,
    fhirUrl: kiln.fhirUrl,
    async token() {
      const { client } = await newClient(kiln, { scope: 'user/*.rs' });
      const user = await newUser(kiln, 'practitioner', 'Practitioner/counted');
      return (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.rs', username: user.username })).access_token;
    },
    stop: () => kiln.stop(),
  };
}

const onPostgres = Boolean(process.env.DATABASE_URL);

describe(onPostgres ? 'on Postgres: a Kiln of two worker processes' : 'on the embedded database: Kiln as one process', () => {
  let kiln: UnderTest;
  beforeAll(async () => {
    kiln = onPostgres ? await kilnOfTwoWorkers() : await kilnOfOneProcess();
  }, 120_000);
  afterAll(() => kiln?.stop());

  it(`serves one address ${LIMIT} requests a minute, not one limit's worth per worker`, async () => {
    const from = ownLoopbackAddress();
    const statuses: number[] = [];
    for (let i = 0; i < REQUESTS; i++) statuses.push(await getFrom(kiln, '/fhir/metadata', from));
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.slice(LIMIT)).toEqual(Array(REQUESTS - LIMIT).fill(429));
  });

  it(`serves one client application ${LIMIT} requests a minute, from however many addresses`, async () => {
    const token = await kiln.token();
    const statuses: number[] = [];
    for (let i = 0; i < REQUESTS; i++) statuses.push(await getFrom(kiln, '/fhir/Patient', ownLoopbackAddress(), { authorization: `Bearer ${token}` }));
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.slice(LIMIT)).toEqual(Array(REQUESTS - LIMIT).fill(429));
  });
});
