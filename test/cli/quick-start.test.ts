// The README's quick start, step by step as a new user types it: a fresh folder, `npm start` (the
// built server, `node dist/server/main.js`, with its defaults: embedded database in ./data,
// authorization on), `TOKEN=$(npx kiln admin token)` in another terminal, then curl: create, read
// and search a Patient with the token. Also the same token made before the server runs, and the
// command refused where it does not belong (Postgres).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, spawnKiln, startKiln, stopKiln, waitUntilReady, type SpawnedKiln } from '../support/kiln-process.js';

const CLI = resolve(import.meta.dirname, '../../dist/server/cli/kiln.js');

let work: string;
let kiln: SpawnedKiln | undefined;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'kiln-quick-start-'));
});
afterEach(async () => {
  if (kiln) await stopKiln(kiln, 'SIGTERM');
  kiln = undefined;
  rmSync(work, { recursive: true, force: true });
});

/** The settings a user has who set none: the embedded database, whatever the suite runs on. */
const userEnv = (): Record<string, string> => ({ DATABASE_URL: '', KILN_DATA_DIR: '', KILN_AUDIT_JOURNAL_DIR: '', KILN_AUTH: '', LOG_LEVEL: '' });

function npxKiln(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...userEnv(), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** curl -H "Authorization: Bearer $TOKEN" … */
async function curl(token: string, url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function createReadSearch(fhirUrl: string, token: string): Promise<void> {
  const created = await curl(token, `${fhirUrl}/Patient`, { resourceType: 'Patient', name: [{ family: 'Quickstart', given: ['Ada'] }] });
  expect(created.status).toBe(201);
  const id = created.json.id as string;
  const read = await curl(token, `${fhirUrl}/Patient/${id}`);
  expect([read.status, (read.json.name as { family: string }[])[0].family]).toEqual([200, 'Quickstart']);
  const found = await curl(token, `${fhirUrl}/Patient?name=quickstart`);
  expect(found.status).toBe(200);
  expect((found.json.entry as { resource: { id: string } }[]).map((e) => e.resource.id)).toEqual([id]);
}

it('gives a first authorised request: npm start, npx kiln admin token, then create, read and search a Patient', async () => {
  // Terminal 1: npm start, in a fresh folder.
  kiln = await startKiln({ ...userEnv() }, { cwd: work });
  // Terminal 2: TOKEN=$(npx kiln admin token)
  const token = await npxKiln(['admin', 'token']);
  expect(token.code).toBe(0);
  expect(token.stdout).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/);
  expect(token.stderr).toContain(`for ${kiln.fhirUrl}`);
  await createReadSearch(kiln.fhirUrl, token.stdout.trim());
  // Without it, the same request is refused: the token is what opened the door.
  expect((await fetch(`${kiln.fhirUrl}/Patient`)).status).toBe(401);
  // Asking again reuses the development account: still one administrator.
  const again = await npxKiln(['admin', 'token']);
  expect(again.code).toBe(0);
  const users = await curl(again.stdout.trim(), `${kiln.origin}/admin/users`);
  expect((users.json as unknown as { username: string; role: string }[]).filter((u) => u.role === 'admin')).toHaveLength(1);
}, 180_000);

it('makes the token before the server runs, for the server started with the same settings', async () => {
  const port = await freePort();
  const settings = { PORT: String(port), KILN_BASE_URL: `http://127.0.0.1:${port}/fhir` };
  const token = await npxKiln(['admin', 'token'], settings);
  expect(token.code).toBe(0);
  expect(token.stderr).toContain(`for ${settings.KILN_BASE_URL}`);
  kiln = await startKiln({ ...userEnv(), ...settings }, { cwd: work, port });
  await createReadSearch(kiln.fhirUrl, token.stdout.trim());
}, 180_000);

it('gives a working token when the server and the token command start at the same moment, whichever opens the folder first', async () => {
  const port = await freePort();
  const settings = { PORT: String(port), KILN_BASE_URL: `http://127.0.0.1:${port}/fhir` };
  const starting = spawnKiln({ ...userEnv(), ...settings }, { cwd: work, port });
  const token = await npxKiln(['admin', 'token'], settings);
  kiln = await starting;
  expect([token.code, token.stdout.length > 0]).toEqual([0, true]);
  await waitUntilReady(kiln);
  await createReadSearch(kiln.fhirUrl, token.stdout.trim());
}, 180_000);

it('refuses to make a development token for a Postgres database', async () => {
  const token = await npxKiln(['admin', 'token'], { DATABASE_URL: 'postgres://kiln@127.0.0.1:1/kiln' });
  expect(token.code).toBe(2);
  expect(token.stdout).toBe('');
  expect(token.stderr).toMatch(/^kiln admin: kiln admin token is for development on the embedded database only/);
}, 60_000);
