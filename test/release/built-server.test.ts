// Kiln as users run it: the built `dist/` (what `npm start` and the Docker image run), started as
// its own process on a fresh database with authorization on, then one request into every area
// (conformance, CRUD, search, compartments, $everything, Bundles, Binary, history, patient tokens,
// administration). A file the build leaves out of dist/ fails here, whatever the sources do.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signIn, type Reachable } from '../auth/support.js';
import { startKiln, stopKiln, type KilnProcess } from '../support/kiln-process.js';
import { embeddedDataFolder } from '../support/embedded-snapshot.js';

const CLI = resolve(import.meta.dirname, '../../dist/server/cli/kiln.js');
const ADMIN = { username: `dist-admin-${Date.now()}`, password: 'a long enough password' };
// A family name of this run only: the shared Postgres keeps the patients of earlier runs.
const FAMILY = `Dist${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

let work: string;
let kiln: KilnProcess;
let site: Reachable;
let admin: string;
let patientToken: string;
const ids: Record<string, string> = {};

const databaseEnv = (): Record<string, string> => (process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', KILN_DATA_DIR: join(work, 'data') });

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...process.env, ...databaseEnv(), LOG_LEVEL: 'warn', KILN_ADMIN_PASSWORD: ADMIN.password } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

async function call(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${kiln.fhirUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> & { id?: string; entry?: { resource: { id: string } }[] } };
}

const entryIds = (bundle: { entry?: { resource: { id: string } }[] }) => (bundle.entry ?? []).map((e) => e.resource.id);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kiln-dist-'));
  if (!process.env.DATABASE_URL) await embeddedDataFolder(join(work, 'data'));
  // The administrator and the app are made before Kiln starts: on the embedded database only one process may hold the data folder.
  const created = await cli(['admin', 'create', ADMIN.username]);
  expect([created.code, created.stderr]).toEqual([0, '']);
  const app = await cli(['admin', 'client', 'Dist test', '--kind', 'public', '--scope', 'launch/patient openid fhirUser user/*.cruds patient/*.rs', '--redirect-uri', 'http://localhost:9999/callback']);
  expect([app.code, app.stderr]).toEqual([0, '']);
  const clientId = /client_id: (\S+)/.exec(app.stdout)?.[1] as string;
  // As npm start runs it: notifications on.
  kiln = await startKiln({ ...databaseEnv(), KILN_AUTH: 'on', KILN_NOTIFICATIONS: 'on' });
  site = { origin: kiln.origin, fhirUrl: kiln.fhirUrl };
  admin = (await signIn(site, { clientId, scope: 'user/*.cruds', username: ADMIN.username, password: ADMIN.password })).access_token;
  ids.patient = (await call(admin, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: FAMILY, given: ['Ada'] }] })).json().id as string;
  ids.other = (await call(admin, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Otherfamily' }] })).json().id as string;
  const observation = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: `Patient/${patient}` } });
  ids.observation = (await call(admin, 'POST', 'Observation', observation(ids.patient))).json().id as string;
  ids.otherObservation = (await call(admin, 'POST', 'Observation', observation(ids.other))).json().id as string;
  const user = await fetch(`${kiln.origin}/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ username: `dist-patient-${Date.now()}`, password: ADMIN.password, role: 'patient', fhirUser: `Patient/${ids.patient}` }),
  });
  expect(user.status).toBe(201);
  const { username } = (await user.json()) as { username: string };
  patientToken = (await signIn(site, { clientId, scope: 'launch/patient patient/*.rs', username, password: ADMIN.password })).access_token;
}, 180_000);

afterAll(async () => {
  if (kiln) await stopKiln(kiln, 'SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

it('serves its CapabilityStatement and SMART configuration', async () => {
  const metadata = await fetch(`${kiln.fhirUrl}/metadata`);
  expect(metadata.status).toBe(200);
  expect(((await metadata.json()) as { rest: { resource: unknown[] }[] }).rest[0].resource.length).toBeGreaterThan(140);
  expect((await fetch(`${kiln.fhirUrl}/.well-known/smart-configuration`)).status).toBe(200);
});

it('reads, updates, patches, versions and deletes', async () => {
  expect((await call(admin, 'GET', `Patient/${ids.patient}`)).status).toBe(200);
  const created = (await call(admin, 'POST', 'Patient', { resourceType: 'Patient', active: true })).json();
  expect((await call(admin, 'PUT', `Patient/${created.id}`, { resourceType: 'Patient', id: created.id, active: false })).status).toBe(200);
  const patched = await call(admin, 'PATCH', `Patient/${created.id}`, [{ op: 'add', path: '/gender', value: 'other' }], { 'content-type': 'application/json-patch+json' });
  expect(patched.status).toBe(200);
  expect((await call(admin, 'GET', `Patient/${created.id}/_history/1`)).status).toBe(200);
  expect(entryIds((await call(admin, 'GET', `Patient/${created.id}/_history`)).json())).toHaveLength(3);
  expect((await call(admin, 'DELETE', `Patient/${created.id}`)).status).toBe(204);
  expect((await call(admin, 'GET', `Patient/${created.id}`)).status).toBe(410);
});

it('searches by parameters, chains, _has, _include and across types', async () => {
  expect(entryIds((await call(admin, 'GET', `Observation?subject=Patient/${ids.patient}&code=http://loinc.org|8867-4`)).json())).toEqual([ids.observation]);
  expect(entryIds((await call(admin, 'GET', `Observation?subject:Patient.name=${FAMILY}`)).json())).toEqual([ids.observation]);
  expect(entryIds((await call(admin, 'GET', `Patient?_has:Observation:subject:_id=${ids.observation}`)).json())).toEqual([ids.patient]);
  expect(entryIds((await call(admin, 'GET', `Observation?_id=${ids.observation}&_include=Observation:subject`)).json()).sort()).toEqual([ids.observation, ids.patient].sort());
  expect((await call(admin, 'GET', `?_type=Patient,Observation&_id=${ids.patient}`)).status).toBe(200);
});

it('searches compartments and answers $everything', async () => {
  expect(entryIds((await call(admin, 'GET', `Patient/${ids.patient}/Observation`)).json())).toEqual([ids.observation]);
  // The administrator's compartment view also holds the AuditEvents of reads of this patient: _type leaves them out.
  expect(entryIds((await call(admin, 'GET', `Patient/${ids.patient}/$everything?_type=Patient,Observation`)).json()).sort()).toEqual([ids.observation, ids.patient].sort());
  expect(entryIds((await call(admin, 'GET', `Patient/${ids.patient}/*?_type=Patient,Observation`)).json()).sort()).toEqual([ids.observation, ids.patient].sort());
});

it('confines a patient token to its own record', async () => {
  expect(entryIds((await call(patientToken, 'GET', 'Observation')).json())).toEqual([ids.observation]);
  expect((await call(patientToken, 'GET', `Observation/${ids.otherObservation}`)).status).toBe(404);
  expect(entryIds((await call(patientToken, 'GET', `Patient/${ids.patient}/$everything`)).json()).sort()).toEqual([ids.observation, ids.patient].sort());
});

it('runs transactions and batches', async () => {
  const transaction = await call(admin, 'POST', '', {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:5d3b4a6e-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
      { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:5d3b4a6e-0000-4000-8000-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
    ],
  });
  expect(transaction.status).toBe(200);
  const batch = await call(admin, 'POST', '', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${ids.patient}` } }] });
  expect(batch.status).toBe(200);
});

it('keeps Binary content as sent', async () => {
  const created = await call(admin, 'POST', 'Binary', 'plain text', { 'content-type': 'text/plain' });
  expect(created.status).toBe(201);
  const read = await fetch(`${kiln.fhirUrl}/Binary/${created.json().id}`, { headers: { authorization: `Bearer ${admin}`, accept: '*/*' } });
  expect(await read.text()).toBe('plain text');
});

it('lets an administrator read the audit trail and reindex', async () => {
  expect((await call(admin, 'GET', 'AuditEvent?_count=1')).status).toBe(200);
  expect((await call(admin, 'POST', '$reindex?_type=Patient')).status).toBe(200);
  expect((await call(admin, 'GET', '_history?_count=5')).status).toBe(200);
});
