// Batch Bundles (hl7.org/fhir/R4/http.html#batch): every entry on its own; one that fails gets
// its own OperationOutcome and the others are written.
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const MRN = 'http://hospital.example.org/mrn';
const patient = (mrn: string, extra: object = {}) => ({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], ...extra });
const post = (entry: unknown[]) => request(kiln.server).post('/fhir').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Bundle', type: 'batch', entry }));
const statuses = (res: request.Response) => res.body.entry.map((e: { response: { status: string } }) => e.response.status);
const countByMrn = async (mrn: string) => (await request(kiln.server).get(`/fhir/Patient?identifier=${MRN}|${mrn}&_summary=count`)).body.total as number;

it('writes the entries that succeed and gives each failing one its own OperationOutcome', async () => {
  const mrn = uniqueId('mrn');
  const existing = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(`${mrn}-x`)))).body;
  const res = await post([
    { resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
    { resource: { resourceType: 'Patient', gender: 'not-a-gender' }, request: { method: 'POST', url: 'Patient' } },
    { request: { method: 'GET', url: `Patient/${existing.id}` } },
    { request: { method: 'GET', url: `Patient/${uniqueId('missing')}` } },
    { resource: { ...existing, active: true }, request: { method: 'PUT', url: `Patient/${existing.id}`, ifMatch: 'W/"9"' } },
    { resource: patient(`${mrn}-2`), request: { method: 'POST', url: 'Patient' } },
    { request: { method: 'GET', url: `Patient?identifier=${MRN}|${mrn}-x` } },
    { resource: { resourceType: 'Patient' } },
  ]);
  expect(res.status).toBe(200);
  expect(res.body.type).toBe('batch-response');
  expect(statuses(res)).toEqual(['201 Created', '400 Bad Request', '200 OK', '404 Not Found', '412 Precondition Failed', '201 Created', '200 OK', '400 Bad Request']);
  for (const i of [1, 3, 4, 7]) {
    expect(res.body.entry[i].response.outcome.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body.entry[i].response.outcome)).toContain(`Bundle.entry[${i}]`);
  }
  expect(res.body.entry[2].resource.id).toBe(existing.id);
  expect(res.body.entry[6].resource.entry).toHaveLength(1);
  expect(await countByMrn(mrn)).toBe(1);
  expect(await countByMrn(`${mrn}-2`)).toBe(1);
});

it('fails an entry that refers to another entry by its urn:uuid, and writes the rest', async () => {
  const mrn = uniqueId('mrn');
  const p = `urn:uuid:${crypto.randomUUID()}`;
  const res = await post([
    { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
    { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: p } }, request: { method: 'POST', url: 'Observation' } },
  ]);
  expect(statuses(res)).toEqual(['201 Created', '400 Bad Request']);
  expect(JSON.stringify(res.body.entry[1].response.outcome)).toContain('may not depend on each other');
  expect(await countByMrn(mrn)).toBe(1);
});

it('resolves conditional references in each entry on its own', async () => {
  const mrn = uniqueId('mrn');
  const target = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)))).body;
  const observation = (reference: string) => ({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference } }, request: { method: 'POST', url: 'Observation' } });
  const res = await post([observation(`Patient?identifier=${MRN}|${mrn}`), observation(`Patient?identifier=${MRN}|${uniqueId('none')}`)]);
  expect(statuses(res)).toEqual(['201 Created', '404 Not Found']);
  expect(res.body.entry[0].resource.subject.reference).toBe(`Patient/${target.id}`);
});

it('runs conditional deletes and patches like their single-request forms', async () => {
  const mrn = uniqueId('mrn');
  await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)));
  const patch = Buffer.from(json([{ op: 'add', path: '/active', value: true }])).toString('base64');
  const patched = await post([{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient?identifier=${MRN}|${mrn}` } }]);
  expect(statuses(patched)).toEqual(['200 OK']);
  expect(patched.body.entry[0].resource.active).toBe(true);
  const deleted = await post([{ request: { method: 'DELETE', url: `Patient?identifier=${MRN}|${mrn}` } }]);
  expect(statuses(deleted)).toEqual(['204 No Content']);
  expect(await countByMrn(mrn)).toBe(0);
});
