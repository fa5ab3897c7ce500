// `npx kiln admin create` and `kiln admin client`: the first account and app, then a real sign-in with them.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';
import { signIn, startAuthServer } from '../auth/support.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const KILN = resolve(import.meta.dirname, '../../dist/server/cli/kiln.js');
let work: string;
beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'kiln-admin-'));
  if (!process.env.DATABASE_URL) await embeddedDataFolder(join(work, 'db'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

const databaseEnv = (): Record<string, string> => (process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: join(work, 'db') });

function kiln(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [KILN, ...args], { cwd: work, env: { ...process.env, ...databaseEnv(), LOG_LEVEL: 'warn', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

it('creates an administrator and an app that can then sign in', async () => {
  const username = `root-${Date.now()}`;
  const created = await kiln(['admin', 'create', username], {}, 'a long enough password\n');
  expect([created.code, created.stderr]).toEqual([0, '']);
  expect(created.stdout).toContain(`Created admin ${username}`);
  const app = await kiln(['admin', 'client', 'Console', '--kind', 'public', '--scope', 'user/*.cruds', '--redirect-uri', 'http://localhost:9999/callback']);
  expect(app.code).toBe(0);
  const clientId = /client_id: (\S+)/.exec(app.stdout)?.[1] as string;
  expect(clientId).toBeTruthy();

  const server = await startAuthServer(databaseEnv());
  try {
    const tokens = await signIn(server, { clientId, scope: 'user/*.cruds', username, password: 'a long enough password' });
    const users = await request(server.server).get('/admin/users').set('Authorization', `Bearer ${tokens.access_token}`);
    expect(users.status).toBe(200);
    expect(users.body.map((u: { username: string }) => u.username)).toContain(username);
  } finally {
    await server.stop();
  }
}, 120_000);

it('refuses a short password or a patient without its Patient, with a usage error', async () => {
  const short = await kiln(['admin', 'create', `x-${Date.now()}`], { KILN_ADMIN_PASSWORD: 'short' });
  expect(short.code).toBe(2);
  expect(short.stderr).toContain('at least 12');
  const patient = await kiln(['admin', 'create', `p-${Date.now()}`, '--role', 'patient'], { KILN_ADMIN_PASSWORD: 'a long enough password' });
  expect(patient.code).toBe(2);
  expect(patient.stderr).toContain('fhirUser');
}, 120_000);

it('refuses to register an app whose scope names a resource type that does not exist, with a usage error', async () => {
  const app = await kiln(['admin', 'client', 'Typo', '--kind', 'public', '--scope', 'user/*.rs patient/Observations.rs', '--redirect-uri', 'http://localhost:9999/callback']);
  expect(app.code).toBe(2);
  expect(app.stderr).toContain('patient/Observations.rs');
  expect(app.stdout).not.toContain('client_id');
}, 120_000);
