// The embedded database is one process's. A second Kiln on the same data folder is refused with one
// clear line, a lock left by a killed process is taken over, and the admin commands work beside a
// running server by asking it, so that nothing they report is lost. These run on the embedded
// database whatever DATABASE_URL says: the data folder exists only there.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signIn } from '../auth/support.js';
import { spawnKiln, startKiln, stopKiln, waitUntilReady, type SpawnedKiln } from '../support/kiln-process.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const CLI = resolve(import.meta.dirname, '../../dist/server/cli/kiln.js');

let work: string;
let env: Record<string, string>;
const started: SpawnedKiln[] = [];

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'kiln-lock-'));
  env = { DATABASE_URL: '', KILN_DATA_DIR: join(work, 'data'), KILN_AUDIT_JOURNAL_DIR: join(work, 'journal') };
  await embeddedDataFolder(env.KILN_DATA_DIR);
});
afterEach(async () => {
  for (const kiln of started.splice(0)) await stopKiln(kiln, 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

async function start(extra: Record<string, string> = {}): Promise<SpawnedKiln> {
  const kiln = await startKiln({ ...env, ...extra });
  started.push(kiln);
  return kiln;
}

function cli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...env, LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function createPatient(kiln: SpawnedKiln, family: string): Promise<string> {
  const res = await fetch(`${kiln.fhirUrl}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family }] }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

it('refuses a second Kiln on the same data folder with one line naming the first', async () => {
  const first = await start();
  const id = await createPatient(first, 'First');
  const second = await spawnKiln(env);
  started.push(second);
  // It either exits (refused) or gets ready (both on one folder): the first is what must happen.
  const outcome = await Promise.race([
    new Promise<string>((done) => second.process.once('exit', () => done('exited'))),
    waitUntilReady(second).then(
      () => 'serving',
      () => 'exited',
    ),
  ]);
  expect(outcome).toBe('exited');
  expect(second.process.exitCode).toBe(1);
  expect(second.output().trim()).toMatch(
    new RegExp(`^Kiln could not start: the data folder .*data is in use by the Kiln server \\(pid ${first.process.pid}\\); stop it first, or give this one another KILN_DATA_DIR$`),
  );
  // The first goes on serving what it wrote.
  expect((await fetch(`${first.fhirUrl}/Patient/${id}`)).status).toBe(200);
}, 120_000);

it('takes over the lock of a Kiln that was killed, and of a process that is not Kiln', async () => {
  const first = await start();
  const id = await createPatient(first, 'Killed');
  await stopKiln(first, 'SIGKILL');
  const second = await start();
  expect((await fetch(`${second.fhirUrl}/Patient/${id}`)).status).toBe(200);
  await stopKiln(second, 'SIGTERM');
  // A lock naming a live process that started later than the lock says (its pid was used again).
  writeFileSync(join(env.KILN_DATA_DIR, 'kiln.lock'), JSON.stringify({ pid: process.pid, command: 'the Kiln server', startTicks: '1' }));
  const third = await start();
  expect((await fetch(`${third.fhirUrl}/Patient/${id}`)).status).toBe(200);
}, 120_000);

it('creates an account and an app through the running server, which can then sign in with them', async () => {
  const kiln = await start({ KILN_AUTH: 'on' });
  const username = `beside-${Date.now()}`;
  const created = await cli(['admin', 'create', username], 'a long enough password\n');
  expect([created.code, created.stderr]).toEqual([0, '']);
  expect(created.stdout).toContain(`Created admin ${username}`);
  const app = await cli(['admin', 'client', 'Beside', '--kind', 'public', '--scope', 'user/*.cruds', '--redirect-uri', 'http://localhost:9999/callback']);
  expect(app.code).toBe(0);
  const clientId = /client_id: (\S+)/.exec(app.stdout)?.[1] as string;

  const tokens = await signIn(kiln, { clientId, scope: 'user/*.cruds', username, password: 'a long enough password' });
  const users = await fetch(`${kiln.origin}/admin/users`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  expect(users.status).toBe(200);
  expect(((await users.json()) as { username: string }[]).map((u) => u.username)).toContain(username);

  // A refused input comes back from the server as the same usage error.
  const taken = await cli(['admin', 'create', username], 'a long enough password\n');
  expect(taken.code).toBe(2);
  expect(taken.stderr).toContain('is taken');
}, 120_000);

it('refuses a local import while the server holds the folder, and says how to import through it', async () => {
  const kiln = await start();
  const file = join(work, 'patient.json');
  writeFileSync(file, JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Imported' }] }));
  const imported = await cli(['import', file]);
  expect(imported.code).toBe(2);
  expect(imported.stderr.trim()).toMatch(new RegExp(`^kiln: the data folder .* is in use by the Kiln server \\(pid ${kiln.process.pid}\\): stop it, or import through it with --url \\S+ and KILN_TOKEN=\\$\\(npx kiln admin token\\)$`));
}, 120_000);
