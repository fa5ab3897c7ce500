// Every client mistake answers an OperationOutcome with a precise status, never a 500:
// hl7.org/fhir/R4/http.html#summary
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer({ KILN_MAX_BODY: '64kb' });
});
afterAll(() => kiln.stop());

function expectOutcome(res: request.Response, status: number, text?: string | RegExp): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toContain('application/fhir+json');
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(res.body.issue[0].severity).toBe('error');
  if (text) expect(res.body.issue[0].details.text).toMatch(text);
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
}

const post = (type: string, body: string, contentType = FHIR_JSON) => request(kiln.server).post(`/fhir/${type}`).set('Content-Type', contentType).send(body);

describe('bad input', () => {
  it('malformed JSON is 400', async () => {
    expectOutcome(await post('Patient', '{"resourceType": "Patient",'), 400, /not valid JSON/);
  });

  it('a body that is not a JSON object is 400', async () => {
    expectOutcome(await post('Patient', '[1,2]'), 400, /JSON object/);
    expectOutcome(await post('Patient', '"Patient"'), 400, /JSON object/);
  });

  it('an empty body is 400', async () => {
    expectOutcome(await post('Patient', ''), 400, /no body/);
  });

  it('a resourceType that does not match the URL is 400', async () => {
    expectOutcome(await post('Patient', json({ resourceType: 'Observation' })), 400, /does not match the URL/);
    expectOutcome(await post('Patient', json({ name: [] })), 400, /no resourceType/);
  });

  it('an id in the body that does not match the URL is 400', async () => {
    const res = await request(kiln.server).put('/fhir/Patient/abc').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Patient', id: 'xyz' }));
    expectOutcome(res, 400, /does not match the id in the URL/);
  });

  it('an unknown type is 404', async () => {
    expectOutcome(await post('Pateint', json({ resourceType: 'Pateint' })), 404, /Unknown resource type "Pateint"/);
    expectOutcome(await request(kiln.server).get('/fhir/Pateint/1'), 404);
  });

  it('an unknown path is 404', async () => {
    expectOutcome(await request(kiln.server).get('/fhir/Patient/1/2/3/4'), 404);
    expectOutcome(await request(kiln.server).get('/nothing-here'), 404);
  });

  it('a version conflict is 409 or 412', async () => {
    const created = await post('Patient', json({ resourceType: 'Patient' }));
    const res = await request(kiln.server).put(`/fhir/Patient/${created.body.id}`).set('Content-Type', FHIR_JSON).set('If-Match', 'W/"9"').send(json(created.body));
    expectOutcome(res, 412);
  });

  it('a content type Kiln does not read is 415', async () => {
    expectOutcome(await post('Patient', '<Patient xmlns="http://hl7.org/fhir"/>', 'application/fhir+xml'), 415, /not supported/);
    expectOutcome(await post('Patient', 'resourceType=Patient', 'application/x-www-form-urlencoded'), 415);
    const patch = await request(kiln.server).patch('/fhir/Patient/1').set('Content-Type', FHIR_JSON).send(json([]));
    expectOutcome(patch, 415, /json-patch/);
  });

  it('a body over the configured limit is 413', async () => {
    const big = json({ resourceType: 'Patient', text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(70 * 1024)}</div>` } });
    expectOutcome(await post('Patient', big), 413, /larger than the limit/);
  });

  it('an unsupported method on a known path is 405 with Allow', async () => {
    const res = await request(kiln.server).delete('/fhir/metadata');
    expectOutcome(res, 405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expectOutcome(await request(kiln.server).post('/fhir/Patient/123').set('Content-Type', FHIR_JSON).send('{}'), 405);
    expectOutcome(await request(kiln.server).put('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Patient' })), 405);
  });

  it('a malformed If-Match is 400', async () => {
    const res = await request(kiln.server).put('/fhir/Patient/abc').set('Content-Type', FHIR_JSON).set('If-Match', 'version 1').send(json({ resourceType: 'Patient', id: 'abc' }));
    expectOutcome(res, 400, /Malformed If-Match/);
  });

  it('an empty or malformed If-None-Exist is 400', async () => {
    const empty = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', '').send(json({ resourceType: 'Patient' }));
    expectOutcome(empty, 400);
    const malformed = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', 'identifier').send(json({ resourceType: 'Patient' }));
    expectOutcome(malformed, 400);
  });

  it('a malformed JSON Patch is 400, one that cannot apply is 422', async () => {
    const created = await post('Patient', json({ resourceType: 'Patient', active: true }));
    const patch = (ops: unknown) => request(kiln.server).patch(`/fhir/Patient/${created.body.id}`).set('Content-Type', 'application/json-patch+json').send(json(ops));
    expectOutcome(await patch({ op: 'add' }), 400, /array/);
    expectOutcome(await patch([{ op: 'explode', path: '/active' }]), 400);
    expectOutcome(await patch([{ op: 'test', path: '/active', value: false }]), 422, /test failed/);
    expectOutcome(await patch([{ op: 'remove', path: '/gender' }]), 422);
    expectOutcome(await patch([{ op: 'replace', path: '/id', value: 'other' }]), 422, /may not change the id/);
    expectOutcome(await patch([{ op: 'replace', path: '/active', value: 'yes' }]), 400);
    const current = await request(kiln.server).get(`/fhir/Patient/${created.body.id}`);
    expect(current.body.meta.versionId).toBe('1');
  });

  it('a Prefer return value Kiln does not know is 400', async () => {
    const res = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('Prefer', 'return=everything').send(json({ resourceType: 'Patient' }));
    expectOutcome(res, 400, /Prefer/);
  });
});
