// The CapabilityStatement and the health endpoints: hl7.org/fhir/R4/http.html#capabilities
import request from 'supertest';
import { resourceTypes } from '../../resources/definitions.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

describe('GET /fhir/metadata', () => {
  it('describes every R4 resource type with the interactions the server really answers', async () => {
    const res = await request(kiln.server).get('/fhir/metadata');
    expect(res.status).toBe(200);
    const cs = res.body;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    expect(cs.format).toContain('application/fhir+json');
    expect(cs.patchFormat).toEqual(['application/json-patch+json']);
    const types = cs.rest[0].resource.map((r: { type: string }) => r.type);
    expect(types).toEqual(resourceTypes());
    expect(types.length).toBeGreaterThanOrEqual(145);
    const patient = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.interaction.map((i: { code: string }) => i.code).sort()).toEqual(
      ['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread'].sort(),
    );
    expect(patient.conditionalDelete).toBe('multiple');
    expect(patient.referencePolicy).toEqual(['literal', 'local']);
    expect(cs.rest[0].interaction).toEqual([{ code: 'transaction' }, { code: 'batch' }, { code: 'history-system' }, { code: 'search-system' }]);
  });

  it('does not claim referencePolicy "enforced": a resource others refer to can still be deleted', async () => {
    const patient = await request(kiln.server).post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send('{"resourceType":"Patient"}');
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient.body.id}` } };
    const referrer = await request(kiln.server).post('/fhir/Observation').set('Content-Type', 'application/fhir+json').send(JSON.stringify(observation));
    expect(referrer.status).toBe(201);
    expect((await request(kiln.server).delete(`/fhir/Patient/${patient.body.id}`)).status).toBe(204);
    const cs = (await request(kiln.server).get('/fhir/metadata')).body;
    for (const resource of cs.rest[0].resource) expect([resource.type, resource.referencePolicy]).toEqual([resource.type, ['literal', 'local']]);
  });

  it('advertises nothing it does not answer: every advertised interaction works on a sample type', async () => {
    const cs = (await request(kiln.server).get('/fhir/metadata')).body;
    const device = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Device');
    const created = await request(kiln.server).post('/fhir/Device').set('Content-Type', 'application/fhir+json').send('{"resourceType":"Device"}');
    const id = created.body.id;
    const calls: Record<string, () => request.Test> = {
      create: () => request(kiln.server).post('/fhir/Device').set('Content-Type', 'application/fhir+json').send('{"resourceType":"Device"}'),
      read: () => request(kiln.server).get(`/fhir/Device/${id}`),
      vread: () => request(kiln.server).get(`/fhir/Device/${id}/_history/1`),
      update: () => request(kiln.server).put(`/fhir/Device/${id}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Device', id })),
      patch: () => request(kiln.server).patch(`/fhir/Device/${id}`).set('Content-Type', 'application/json-patch+json').send('[{"op":"add","path":"/status","value":"active"}]'),
      'history-instance': () => request(kiln.server).get(`/fhir/Device/${id}/_history`),
      'history-type': () => request(kiln.server).get('/fhir/Device/_history'),
      'search-type': () => request(kiln.server).get('/fhir/Device?status=active'),
      delete: () => request(kiln.server).delete(`/fhir/Device/${id}`),
    };
    for (const { code } of device.interaction as { code: string }[]) {
      const res = await calls[code]();
      expect([code, res.status < 300]).toEqual([code, true]);
    }
  });

  it('answers every search parameter it advertises, for every type', async () => {
    const cs = (await request(kiln.server).get('/fhir/metadata')).body;
    const failures: string[] = [];
    let checked = 0;
    for (const resource of cs.rest[0].resource as { type: string; searchParam: { name: string }[] }[]) {
      for (const { name } of resource.searchParam) {
        const query = name === '_lastUpdated' ? '_lastUpdated=ge2000-01-01' : name === '_list' ? '_list=none' : name === '_content' || name === '_text' ? `${name}=nothing` : `${name}:missing=false`;
        const res = await request(kiln.server).get(`/fhir/${resource.type}?${query}&_count=1`);
        checked++;
        if (res.status !== 200 || res.body.type !== 'searchset') failures.push(`${resource.type}?${query}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(1500);
  });

  it('lists the includes and reverse includes it follows', async () => {
    const cs = (await request(kiln.server).get('/fhir/metadata')).body;
    const observation = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Observation');
    expect(observation.searchInclude).toEqual(expect.arrayContaining(['*', 'Observation:subject', 'Observation:performer']));
    const patient = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.searchRevInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Encounter:patient']));
  });

  it('answers 405 for other methods', async () => {
    expect((await request(kiln.server).post('/fhir/metadata')).status).toBe(405);
  });
});

describe('health', () => {
  it('/healthz answers while the process runs and /readyz when the database answers', async () => {
    expect((await request(kiln.server).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(kiln.server).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
  });

  it('puts a request id on every response, keeping a well-formed one the client sent', async () => {
    const res = await request(kiln.server).get('/healthz').set('X-Request-Id', 'abc-123');
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect((await request(kiln.server).get('/healthz')).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
