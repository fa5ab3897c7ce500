// Every authorised read and write records an AuditEvent: who, what, when, from where, outcome.
// A write's is stored in the same transaction (a failed write leaves none); a read's shortly
// after. Administrators read them; nobody changes or deletes them through the API.
import request from 'supertest';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let doctorToken: string;
let adminToken: string;

beforeAll(async () => {
  kiln = await startAuthServer();
  const { client } = await newClient(kiln, { scope: 'user/*.cruds' });
  doctorToken = (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username: (await newUser(kiln, 'practitioner', 'Practitioner/dr-audit')).username })).access_token;
  adminToken = (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username: (await newUser(kiln, 'admin')).username })).access_token;
});
afterAll(() => kiln.stop());

const as = (token: string) => ({
  get: (path: string) => request(kiln.server).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`),
  post: (path: string, body: unknown) => request(kiln.server).post(`/fhir/${path}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
});

/** The AuditEvents about `reference`, waiting a little for reads' events, which are stored just after. */
async function auditsOf(reference: string, expected: number) {
  for (let i = 0; i < 50; i++) {
    const found = (await as(adminToken).get(`AuditEvent?entity=${reference}&_count=100`)).body.entry ?? [];
    if (found.length >= expected) return found.map((e: { resource: Record<string, unknown> }) => e.resource);
    await new Promise((r) => setTimeout(r, 50));
  }
  return (await as(adminToken).get(`AuditEvent?entity=${reference}&_count=100`)).body.entry?.map((e: { resource: Record<string, unknown> }) => e.resource) ?? [];
}

it('records who wrote what, when, from where and with which app, and who read it', async () => {
  const patient = (await as(doctorToken).post('Patient', { resourceType: 'Patient', name: [{ family: 'Audited' }] })).body;
  expect((await as(doctorToken).get(`Patient/${patient.id}`)).status).toBe(200);
  const events = await auditsOf(`Patient/${patient.id}`, 2);
  const byAction = Object.fromEntries(events.map((e: { action: string }) => [e.action, e]));
  expect(Object.keys(byAction).sort()).toEqual(['C', 'R']);
  const created = byAction.C;
  expect(created.subtype[0].code).toBe('create');
  expect(created.outcome).toBe('0');
  expect(created.entity[0].what.reference).toBe(`Patient/${patient.id}/_history/1`);
  expect(created.agent[0]).toMatchObject({ who: { reference: 'Practitioner/dr-audit' }, requestor: true });
  expect(created.agent[0].network.address).toBeTruthy();
  expect(created.agent[1].who.identifier.system).toBe('urn:kiln:client');
  expect(Date.now() - new Date(created.recorded).getTime()).toBeLessThan(60_000);
  expect(byAction.R.subtype[0].code).toBe('read');
});

it('records nothing for a write that failed', async () => {
  // Only this doctor's: other test files write through the shared database at the same time.
  const creates = async () => (await as(adminToken).get('AuditEvent?action=C&agent=Practitioner/dr-audit&_summary=count')).body.total as number;
  const before = await creates();
  const invalid = await as(doctorToken).post('Patient', { resourceType: 'Patient', gender: 'not-a-gender' });
  expect(invalid.status).toBe(400);
  const missing = await as(doctorToken).post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/not-there' } });
  expect(missing.status).toBe(400);
  expect(await creates()).toBe(before);
  expect((await as(doctorToken).post('Patient', { resourceType: 'Patient' })).status).toBe(201);
  expect(await creates()).toBe(before + 1);
});

it('records searches with their query', async () => {
  // A code of this run only: the suite's shared Postgres keeps the AuditEvents of earlier runs.
  const code = `code-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const since = new Date(Date.now() - 1000).toISOString();
  expect((await as(doctorToken).get(`Observation?code=${code}`)).status).toBe(200);
  let found: { entity: { query: string }[] }[] = [];
  for (let i = 0; i < 50 && !found.length; i++) {
    // Only this test's moment: other suites on the shared database record searches by the thousand.
    const all = (await as(adminToken).get(`AuditEvent?subtype=http://hl7.org/fhir/restful-interaction|search-type&_lastUpdated=ge${since}&_count=1000`)).body.entry ?? [];
    found = all
      .map((e: { resource: { entity: { query: string }[] } }) => e.resource)
      .filter((e: { entity: { query?: string }[] }) => e.entity.some((entity) => entity.query && Buffer.from(entity.query, 'base64').toString().includes(`code=${code}`)));
    if (!found.length) await new Promise((r) => setTimeout(r, 50));
  }
  expect(found.length).toBe(1);
});

it("gathers one caller's reads within moments into one AuditEvent that lists each resource and the period", async () => {
  const patient = (await as(doctorToken).post('Patient', { resourceType: 'Patient' })).body;
  await Promise.all([1, 2, 3].map(() => as(doctorToken).get(`Patient/${patient.id}`)));
  type Read = { action: string; entity: { what: { reference: string } }[]; period: { start: string; end: string } };
  const readsOf = async () => ((await auditsOf(`Patient/${patient.id}`, 2)) as Read[]).filter((e) => e.action === 'R');
  const entitiesOf = (events: Read[]) => events.flatMap((e) => e.entity.map((x) => x.what.reference));
  // The reads may be gathered into more than one AuditEvent, stored a moment apart: wait for all three.
  let reads = await readsOf();
  for (let i = 0; i < 50 && entitiesOf(reads).length < 3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    reads = await readsOf();
  }
  const entities = entitiesOf(reads);
  expect(entities).toEqual([1, 2, 3].map(() => `Patient/${patient.id}/_history/1`));
  for (const event of reads) expect(new Date(event.period.end).getTime()).toBeGreaterThanOrEqual(new Date(event.period.start).getTime());
});

it('keeps AuditEvents unchangeable through the API, even for administrators', async () => {
  const events = (await as(adminToken).get('AuditEvent?_count=1')).body.entry;
  const event = events[0].resource;
  const update = await request(kiln.server).put(`/fhir/AuditEvent/${event.id}`).set('Authorization', `Bearer ${adminToken}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...event, outcome: '8' }));
  expect(update.status).toBe(403);
  const remove = await request(kiln.server).delete(`/fhir/AuditEvent/${event.id}`).set('Authorization', `Bearer ${adminToken}`);
  expect(remove.status).toBe(403);
  const patch = await request(kiln.server).patch(`/fhir/AuditEvent/${event.id}`).set('Authorization', `Bearer ${adminToken}`).set('Content-Type', 'application/json-patch+json').send('[{"op":"replace","path":"/outcome","value":"8"}]');
  expect(patch.status).toBe(403);
  expect((await as(adminToken).get(`AuditEvent/${event.id}`)).body.outcome).toBe(event.outcome);
});
