// Version-aware updates and conditional reads: hl7.org/fhir/R4/http.html#concurrency, #cread
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

async function createObservationSubject() {
  const res = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Patient', active: true }));
  return res.body;
}

const put = (resource: { id: string }, ifMatch?: string) => {
  const req = request(kiln.server).put(`/fhir/Patient/${resource.id}`).set('Content-Type', FHIR_JSON);
  if (ifMatch !== undefined) req.set('If-Match', ifMatch);
  return req.send(json(resource));
};

describe('If-Match', () => {
  it('updates when the version matches and answers 412 when it does not', async () => {
    const patient = await createObservationSubject();
    const ok = await put({ ...patient, active: false }, 'W/"1"');
    expect(ok.status).toBe(200);
    const stale = await put({ ...patient, active: true }, 'W/"1"');
    expect(stale.status).toBe(412);
    expect(stale.body.issue[0].details.text).toContain('does not match the current version');
    const current = await request(kiln.server).get(`/fhir/Patient/${patient.id}`);
    expect(current.body.active).toBe(false);
    expect(current.body.meta.versionId).toBe('2');
  });

  it('accepts a strong ETag form too', async () => {
    const patient = await createObservationSubject();
    expect((await put({ ...patient, active: false }, '"1"')).status).toBe(200);
  });

  it('answers 400 for an If-Match that is no entity tag', async () => {
    const patient = await createObservationSubject();
    for (const bad of ['1', 'W/1', 'W/"one', '"a"b"', '']) {
      const res = await put({ ...patient, active: false }, bad);
      expect(res.status).toBe(400);
      expect(res.body.issue[0].details.text).toContain('Malformed If-Match');
    }
  });

  it('answers 412 for a well-formed If-Match that names no current version', async () => {
    const patient = await createObservationSubject();
    for (const other of ['W/"one"', 'W/"01"', '"2"', 'W/"a-b.c"', 'W/""']) {
      const res = await put({ ...patient, active: false }, other);
      expect([other, res.status]).toEqual([other, 412]);
    }
    expect((await put({ ...patient, active: false }, '"1"')).status).toBe(200);
  });

  it('guards patch and delete as well', async () => {
    const patient = await createObservationSubject();
    const patch = await request(kiln.server)
      .patch(`/fhir/Patient/${patient.id}`)
      .set('Content-Type', 'application/json-patch+json')
      .set('If-Match', 'W/"5"')
      .send(json([{ op: 'replace', path: '/active', value: false }]));
    expect(patch.status).toBe(412);
    const del = await request(kiln.server).delete(`/fhir/Patient/${patient.id}`).set('If-Match', 'W/"2"');
    expect(del.status).toBe(412);
    await request(kiln.server).get(`/fhir/Patient/${patient.id}`).expect(200);
    await request(kiln.server).delete(`/fhir/Patient/${patient.id}`).set('If-Match', 'W/"1"').expect(204);
  });

  it('lets exactly one of two concurrent updates with the same If-Match win', async () => {
    const patient = await createObservationSubject();
    for (let round = 0; round < 5; round++) {
      const version = round + 1;
      const results = await Promise.all([
        put({ ...patient, active: round % 2 === 0, gender: 'male' }, `W/"${version}"`),
        put({ ...patient, active: round % 2 === 0, gender: 'female' }, `W/"${version}"`),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    }
    const history = await request(kiln.server).get(`/fhir/Patient/${patient.id}/_history`);
    expect(history.body.entry).toHaveLength(6);
  });

  it('lets exactly one of two concurrent creates of the same client id create it', async () => {
    const id = `race-${Date.now().toString(36)}`;
    const body = { resourceType: 'Patient', id };
    const results = await Promise.all([put(body), put(body)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 201]);
    const current = await request(kiln.server).get(`/fhir/Patient/${id}`);
    expect(current.body.meta.versionId).toBe('2');
  });
});

describe('conditional read', () => {
  it('answers 304 for If-None-Match with the current version, 200 otherwise', async () => {
    const patient = await createObservationSubject();
    const same = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('If-None-Match', 'W/"1"');
    expect(same.status).toBe(304);
    expect(same.headers.etag).toBe('W/"1"');
    const other = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('If-None-Match', 'W/"0"');
    expect(other.status).toBe(200);
  });

  it('answers 304 for If-Modified-Since at or after the last change, 200 before it', async () => {
    const patient = await createObservationSubject();
    const lastUpdated = Date.parse(patient.meta.lastUpdated);
    const after = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('If-Modified-Since', new Date(lastUpdated + 2000).toUTCString());
    expect(after.status).toBe(304);
    const before = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('If-Modified-Since', new Date(lastUpdated - 60000).toUTCString());
    expect(before.status).toBe(200);
    const bad = await request(kiln.server).get(`/fhir/Patient/${patient.id}`).set('If-Modified-Since', 'last tuesday');
    expect(bad.status).toBe(400);
  });
});
