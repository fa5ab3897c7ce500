// create, read, vread, update (and update-as-create), delete: hl7.org/fhir/R4/http.html
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const patient = (family = 'Chalmers') => ({ resourceType: 'Patient', name: [{ family, given: ['Peter'] }], gender: 'male', birthDate: '1974-12-25' });

async function createPatient(body: object = patient()) {
  const res = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(body));
  expect(res.status).toBe(201);
  return res;
}

describe('create', () => {
  it('assigns an id and version 1 and answers 201 with Location, ETag and Last-Modified', async () => {
    const res = await createPatient({ ...patient(), id: 'ignored-client-id', meta: { versionId: '99', lastUpdated: '2000-01-01T00:00:00Z' } });
    expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.id).not.toBe('ignored-client-id');
    expect(res.body.meta.versionId).toBe('1');
    expect(Date.now() - Date.parse(res.body.meta.lastUpdated)).toBeLessThan(60_000);
    expect(res.headers.location).toBe(`${kiln.fhirUrl}/Patient/${res.body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(res.headers['last-modified']).toUTCString()).toBe(res.headers['last-modified']);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    expect(res.body.name).toEqual([{ family: 'Chalmers', given: ['Peter'] }]);
  });

  it('accepts application/json as well as application/fhir+json', async () => {
    const res = await request(kiln.server).post('/fhir/Patient').set('Content-Type', 'application/json; charset=utf-8').send(json(patient()));
    expect(res.status).toBe(201);
  });
});

describe('read and vread', () => {
  it('reads the current version and each past version', async () => {
    const created = (await createPatient()).body;
    await request(kiln.server).put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR_JSON).send(json({ ...created, gender: 'female' })).expect(200);

    const current = await request(kiln.server).get(`/fhir/Patient/${created.id}`).expect(200);
    expect(current.body.gender).toBe('female');
    expect(current.body.meta.versionId).toBe('2');
    expect(current.headers.etag).toBe('W/"2"');

    const first = await request(kiln.server).get(`/fhir/Patient/${created.id}/_history/1`).expect(200);
    expect(first.body.gender).toBe('male');
    expect(first.headers.etag).toBe('W/"1"');
  });

  it('answers 404 with an OperationOutcome for an unknown id, version or type', async () => {
    const unknownId = await request(kiln.server).get(`/fhir/Patient/${uniqueId('none')}`).expect(404);
    expect(unknownId.body.resourceType).toBe('OperationOutcome');
    expect(unknownId.body.issue[0].code).toBe('not-found');

    const created = (await createPatient()).body;
    const unknownVersion = await request(kiln.server).get(`/fhir/Patient/${created.id}/_history/7`).expect(404);
    expect(unknownVersion.body.issue[0].details.text).toContain('no version 7');

    const unknownType = await request(kiln.server).get('/fhir/Patients/1').expect(404);
    expect(unknownType.body.issue[0].details.text).toContain('Unknown resource type "Patients"');
  });
});

describe('update', () => {
  it('creates a new version and keeps the old one', async () => {
    const created = (await createPatient()).body;
    const res = await request(kiln.server).put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR_JSON).send(json({ ...created, active: true }));
    expect(res.status).toBe(200);
    expect(res.body.meta.versionId).toBe('2');
    expect(res.body.active).toBe(true);
    expect(res.headers.location).toBe(`${kiln.fhirUrl}/Patient/${created.id}/_history/2`);
    expect(Date.parse(res.body.meta.lastUpdated)).toBeGreaterThanOrEqual(Date.parse(created.meta.lastUpdated));
  });

  it('creates the resource with the client id when it does not exist yet (update as create)', async () => {
    const id = uniqueId('client');
    const res = await request(kiln.server).put(`/fhir/Patient/${id}`).set('Content-Type', FHIR_JSON).send(json({ ...patient(), id }));
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(id);
    expect(res.body.meta.versionId).toBe('1');
    await request(kiln.server).get(`/fhir/Patient/${id}`).expect(200);
  });

  it('refuses an id in the body that differs from the URL, or a missing one', async () => {
    const id = uniqueId();
    const mismatch = await request(kiln.server).put(`/fhir/Patient/${id}`).set('Content-Type', FHIR_JSON).send(json({ ...patient(), id: 'other' }));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.issue[0].details.text).toContain('does not match the id in the URL');
    const missing = await request(kiln.server).put(`/fhir/Patient/${id}`).set('Content-Type', FHIR_JSON).send(json(patient()));
    expect(missing.status).toBe(400);
    await request(kiln.server).get(`/fhir/Patient/${id}`).expect(404);
  });

  it('refuses a malformed client id', async () => {
    const res = await request(kiln.server).put('/fhir/Patient/bad_id!').set('Content-Type', FHIR_JSON).send(json({ ...patient(), id: 'bad_id!' }));
    expect(res.status).toBe(400);
    expect(res.body.issue[0].expression).toEqual(['Patient.id']);
  });
});

describe('delete', () => {
  it('answers 410 Gone on read afterwards, keeps history, and can be repeated', async () => {
    const created = (await createPatient()).body;
    const res = await request(kiln.server).delete(`/fhir/Patient/${created.id}`);
    expect(res.status).toBe(204);
    expect(res.headers.etag).toBe('W/"2"');

    const read = await request(kiln.server).get(`/fhir/Patient/${created.id}`).expect(410);
    expect(read.body.issue[0].code).toBe('deleted');
    await request(kiln.server).get(`/fhir/Patient/${created.id}/_history/1`).expect(200);
    await request(kiln.server).get(`/fhir/Patient/${created.id}/_history/2`).expect(410);

    const history = await request(kiln.server).get(`/fhir/Patient/${created.id}/_history`).expect(200);
    expect(history.body.entry.map((e: { request: { method: string } }) => e.request.method)).toEqual(['DELETE', 'POST']);

    await request(kiln.server).delete(`/fhir/Patient/${created.id}`).expect(204);
    const again = await request(kiln.server).get(`/fhir/Patient/${created.id}/_history`).expect(200);
    expect(again.body.entry).toHaveLength(2);
  });

  it('answers 404 for an id that never existed', async () => {
    await request(kiln.server).delete(`/fhir/Patient/${uniqueId()}`).expect(404);
  });

  it('lets a deleted resource be brought back by update, as a new version', async () => {
    const created = (await createPatient()).body;
    await request(kiln.server).delete(`/fhir/Patient/${created.id}`).expect(204);
    const res = await request(kiln.server).put(`/fhir/Patient/${created.id}`).set('Content-Type', FHIR_JSON).send(json(created));
    expect(res.status).toBe(200);
    expect(res.body.meta.versionId).toBe('3');
  });
});

describe('Prefer: return', () => {
  it('returns nothing, the resource, or an OperationOutcome as asked', async () => {
    const minimal = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('Prefer', 'return=minimal').send(json(patient()));
    expect(minimal.status).toBe(201);
    expect(minimal.text).toBe('');
    expect(minimal.headers.location).toContain('/_history/1');

    const outcome = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('Prefer', 'return=OperationOutcome').send(json(patient()));
    expect(outcome.status).toBe(201);
    expect(outcome.body.resourceType).toBe('OperationOutcome');
    expect(outcome.body.issue[0].severity).toBe('information');

    const representation = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('Prefer', 'return=representation').send(json(patient()));
    expect(representation.body.resourceType).toBe('Patient');
  });

  it('answers a delete with an OperationOutcome when asked', async () => {
    const created = (await createPatient()).body;
    const res = await request(kiln.server).delete(`/fhir/Patient/${created.id}`).set('Prefer', 'return=OperationOutcome');
    expect(res.status).toBe(200);
    expect(res.body.issue[0].details.text).toBe(`Deleted Patient/${created.id}`);
  });
});

describe('every R4 resource type', () => {
  it('stores and reads a minimal instance of each type', async () => {
    const { resourceTypes } = await import('../../resources/definitions.js');
    const failures: string[] = [];
    let stored = 0;
    for (const type of resourceTypes()) {
      const id = uniqueId(type.toLowerCase()).slice(0, 64);
      const res = await request(kiln.server).put(`/fhir/${type}/${id}`).set('Content-Type', FHIR_JSON).send(json({ resourceType: type, id }));
      // Types with mandatory elements or invariants are refused with 400 naming them; the rest are stored.
      if (res.status === 201) {
        stored++;
        const read = await request(kiln.server).get(`/fhir/${type}/${id}`);
        if (read.status !== 200 || read.body.resourceType !== type) failures.push(`${type}: read ${read.status}`);
      } else if (res.status !== 400 || !res.body.issue.every((i: { code: string }) => i.code === 'structure' || i.code === 'invariant')) {
        failures.push(`${type}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    expect(failures).toEqual([]);
    // 32 of the R4 types have no mandatory element and no invariant a bare instance breaks.
    expect(stored).toBeGreaterThanOrEqual(30);
  });
});
