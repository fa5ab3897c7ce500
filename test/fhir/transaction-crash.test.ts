// A transaction leaves nothing behind when the process dies in the middle of it: Kiln is killed
// (SIGKILL, no chance to clean up) while a large transaction is being written, started again on
// the same database, and none of that transaction's resources are there.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../../dist/server/main.js');
const ENTRIES = 4000;

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
    probe.on('error', fail);
  });
}

interface Kiln {
  process: ChildProcess;
  origin: string;
}

/** `node dist/server/main.js`, as `npm start` runs it (`npm test` builds dist first). */
async function start(env: Record<string, string>): Promise<Kiln> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', KILN_WORKERS: '1', LOG_LEVEL: 'warn', KILN_BASE_URL: '', KILN_AUTH: 'off' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`Kiln exited with ${child.exitCode}: ${errors}`);
    const ready = await fetch(`${origin}/readyz`).then((r) => r.ok, () => false);
    if (ready) return { process: child, origin };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Kiln did not start: ${errors}`);
}

async function stop(kiln: Kiln, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((done) => kiln.process.once('exit', done));
  process.kill(-(kiln.process.pid as number), signal);
  await exited;
}

function transaction(marker: string): string {
  const entry = Array.from({ length: ENTRIES }, (_, i) => ({
    fullUrl: `urn:uuid:${crypto.randomUUID()}`,
    resource: { resourceType: 'Patient', identifier: [{ system: marker, value: String(i) }], name: [{ family: `Crash${i}` }] },
    request: { method: 'POST', url: 'Patient' },
  }));
  return JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry });
}

/** Posts `body`; resolves with the status, or with undefined if the connection died first. */
function post(origin: string, body: string, onSent: () => void): Promise<number | undefined> {
  return new Promise((done) => {
    const req = httpRequest(`${origin}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode));
      res.on('error', () => done(undefined));
    });
    req.on('error', () => done(undefined));
    req.end(body, onSent);
  });
}

const count = async (origin: string, marker: string) =>
  ((await (await fetch(`${origin}/fhir/Patient?identifier=${encodeURIComponent(`${marker}|`)}&_summary=count`)).json()) as { total: number }).total;

it('keeps nothing of a transaction the process was killed in the middle of', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-crash-'));
  // On the real Postgres when the suite runs there, otherwise on the embedded database on disk.
  const env: Record<string, string> = process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: dataDir };
  let kiln = await start(env);
  try {
    // A first transaction of the same size, run to the end, times how long one takes here.
    const whole = `urn:kiln:crash:${crypto.randomUUID()}`;
    const started = performance.now();
    let sentAt = 0;
    expect(await post(kiln.origin, transaction(whole), () => (sentAt = performance.now()))).toBe(200);
    const serverTime = performance.now() - Math.max(started, sentAt);

    const killed = `urn:kiln:crash:${crypto.randomUUID()}`;
    let answered = false;
    const pending = post(kiln.origin, transaction(killed), () => {
      // Halfway through the time the server took for the first one.
      setTimeout(() => void stop(kiln, 'SIGKILL'), serverTime / 2);
    }).then((status) => {
      answered = status !== undefined;
      return status;
    });
    expect(await pending).toBeUndefined();
    expect(answered).toBe(false);

    kiln = await start(env);
    expect(await count(kiln.origin, whole)).toBe(ENTRIES);
    expect(await count(kiln.origin, killed)).toBe(0);
  } finally {
    if (kiln.process.exitCode === null && kiln.process.signalCode === null) await stop(kiln, 'SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);
