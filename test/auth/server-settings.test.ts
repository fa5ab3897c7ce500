// How authorization is switched and bounded: on unless KILN_AUTH=off is asked for (with a warning
// at every start), the first administrator from the environment, and requests per minute.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';
import { freePort } from '../support/kiln-process.js';
import { newClient, signIn, startAuthServer } from './support.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');


/** Starts `npm start`'s entry point, waits until it answers, and stops it; returns what it logged. */
async function startAndStop(env: Record<string, string>): Promise<{ log: string; unauthenticated: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, KILN_WORKERS: '1', KILN_DATA_DIR: '', DATABASE_URL: process.env.DATABASE_URL ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', KILN_BASE_URL: '', ...env } });
  let log = '';
  child.stdout.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  let status = 0;
  // Until it is ready, Kiln answers 503 (Retry-After): the answer that counts comes after.
  for (let i = 0; i < 900 && (!status || status === 503); i++) {
    status = await fetch(`http://127.0.0.1:${port}/fhir/Patient`, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, () => 0);
    if (!status || status === 503) await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
  return { log, unauthenticated: status };
}

it('requires a token by default, and serves without one only when KILN_AUTH=off is set, warning each time', async () => {
  const dataDir = `${process.env.KILN_TEST_RUN_DIR ?? '/tmp'}/settings-${Date.now()}`;
  if (!process.env.DATABASE_URL) for (const end of ['on', 'off']) await embeddedDataFolder(`${dataDir}-${end}`);
  const on = await startAndStop({ KILN_DATA_DIR: `${dataDir}-on` });
  expect(on.unauthenticated).toBe(401);
  expect(on.log).not.toContain('KILN_AUTH=off');
  const off = await startAndStop({ KILN_AUTH: 'off', KILN_DATA_DIR: `${dataDir}-off` });
  expect(off.unauthenticated).toBe(200);
  expect(off.log).toContain('KILN_AUTH=off');
}, 300_000);

it('creates the first administrator from KILN_ADMIN_USERNAME and KILN_ADMIN_PASSWORD', async () => {
  const username = `first-admin-${Date.now()}`;
  // A database with no administrator yet: the shared test Postgres has those of other tests.
  const kiln = await startAuthServer({ DATABASE_URL: '', KILN_ADMIN_USERNAME: username, KILN_ADMIN_PASSWORD: 'the first admin password' });
  try {
    const { client } = await newClient(kiln, { scope: 'user/*.cruds' });
    const tokens = await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username, password: 'the first admin password' });
    expect((await request(kiln.server).get('/admin/users').set('Authorization', `Bearer ${tokens.access_token}`)).status).toBe(200);
  } finally {
    await kiln.stop();
  }
  // In the Postgres run this may be the first test to ask for the embedded schema snapshot, which
  // is then built here (5,000 statements on the embedded database) before the server starts.
}, 180_000);

it('answers 429 with an OperationOutcome and Retry-After past the configured requests per minute', async () => {
  const kiln = await startAuthServer({ KILN_RATE_LIMIT_PER_MINUTE: '5' });
  try {
    const statuses: number[] = [];
    let last: request.Response | undefined;
    for (let i = 0; i < 7; i++) {
      last = await request(kiln.server).get('/fhir/metadata');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last?.body.resourceType).toBe('OperationOutcome');
    expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
  } finally {
    await kiln.stop();
  }
});

it('answers 401 to a write without a token before reading its body, even one over KILN_MAX_BODY', async () => {
  const kiln = await startAuthServer({ KILN_MAX_BODY: '1kb' });
  try {
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(4096) }] });
    const anonymous = await request(kiln.server).post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send(body);
    // Not 413: the body of a caller without a token is never read.
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer realm="Kiln"/);
    expect(anonymous.body.resourceType).toBe('OperationOutcome');
  } finally {
    await kiln.stop();
  }
});
