// Conditional create, update, patch and delete: hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const SYSTEM = 'http://hospital.example.org/mrn';
const withMrn = (mrn: string, extra: object = {}) => ({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value: mrn }], ...extra });

const post = (body: object, ifNoneExist?: string) => {
  const req = request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON);
  if (ifNoneExist !== undefined) req.set('If-None-Exist', ifNoneExist);
  return req.send(json(body));
};

describe('conditional create (If-None-Exist)', () => {
  it('creates when nothing matches and returns the existing resource when one does', async () => {
    const mrn = uniqueId('mrn');
    const first = await post(withMrn(mrn), `identifier=${SYSTEM}|${mrn}`);
    expect(first.status).toBe(201);
    const second = await post(withMrn(mrn, { active: true }), `identifier=${SYSTEM}|${mrn}`);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.active).toBeUndefined();
    expect(second.headers.location).toBe(`${kiln.fhirUrl}/Patient/${first.body.id}/_history/1`);
  });

  it('matches every token form: system|value, value alone, and _id', async () => {
    const mrn = uniqueId('mrn');
    const created = (await post(withMrn(mrn))).body;
    expect((await post(withMrn(mrn), `identifier=${mrn}`)).body.id).toBe(created.id);
    expect((await post(withMrn(mrn), `_id=${created.id}`)).body.id).toBe(created.id);
    expect((await post(withMrn(mrn), `identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}`)).body.id).toBe(created.id);
    expect((await post(withMrn(mrn), `identifier=http://other.example.org|${mrn}`)).status).toBe(201);
  });

  it('answers 412 when the criteria match more than one resource', async () => {
    const mrn = uniqueId('mrn');
    await post(withMrn(mrn));
    await post(withMrn(mrn));
    const res = await post(withMrn(mrn, { gender: 'other' }), `identifier=${mrn}`);
    expect(res.status).toBe(412);
    expect(res.body.issue[0].details.text).toContain('matches more than one');
  });

  it('creates exactly one resource when two identical conditional creates race', async () => {
    const mrn = uniqueId('mrn');
    const results = await Promise.all([1, 2, 3].map(() => post(withMrn(mrn), `identifier=${SYSTEM}|${mrn}`)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
  });

  it('answers 400 for an empty or malformed If-None-Exist', async () => {
    for (const bad of ['', '   ', 'identifier=', 'identifier=|', 'nickname=smith', 'identifier=a,,b', 'birthdate=yesterday']) {
      const res = await post(withMrn(uniqueId()), bad);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('conditional update', () => {
  const putWhere = (criteria: string, body: object) => request(kiln.server).put(`/fhir/Patient?${criteria}`).set('Content-Type', FHIR_JSON).send(json(body));

  it('creates when nothing matches, updates the one match, and answers 412 for several', async () => {
    const mrn = uniqueId('mrn');
    const created = await putWhere(`identifier=${SYSTEM}|${mrn}`, withMrn(mrn));
    expect(created.status).toBe(201);
    const updated = await putWhere(`identifier=${SYSTEM}|${mrn}`, withMrn(mrn, { active: true }));
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.body.meta.versionId).toBe('2');

    await post(withMrn(mrn));
    const ambiguous = await putWhere(`identifier=${SYSTEM}|${mrn}`, withMrn(mrn, { active: false }));
    expect(ambiguous.status).toBe(412);
  });

  it('uses the id in the body when nothing matches, and answers 400 when it differs from the match (R4 http.html#cond-update)', async () => {
    const mrn = uniqueId('mrn');
    const id = uniqueId('cu');
    const created = await putWhere(`identifier=${SYSTEM}|${mrn}`, withMrn(mrn, { id }));
    expect(created.status).toBe(201);
    expect(created.body.id).toBe(id);
    const conflict = await putWhere(`identifier=${SYSTEM}|${mrn}`, withMrn(mrn, { id: 'someone-else' }));
    expect(conflict.status).toBe(400);
    expect(conflict.body.issue[0].details.text).toContain(`matches Patient/${id}`);
  });
});

describe('conditional patch', () => {
  it('patches the single match', async () => {
    const mrn = uniqueId('mrn');
    const created = (await post(withMrn(mrn))).body;
    const res = await request(kiln.server)
      .patch(`/fhir/Patient?identifier=${SYSTEM}|${mrn}`)
      .set('Content-Type', 'application/json-patch+json')
      .send(json([{ op: 'add', path: '/active', value: true }]));
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(created.id);
    expect(res.body.active).toBe(true);
  });
});

describe('conditional delete', () => {
  it('deletes every match and only the matches', async () => {
    const mrn = uniqueId('mrn');
    const a = (await post(withMrn(mrn))).body;
    const b = (await post(withMrn(mrn))).body;
    const other = (await post(withMrn(uniqueId('mrn')))).body;
    const res = await request(kiln.server).delete(`/fhir/Patient?identifier=${SYSTEM}|${mrn}`).set('Prefer', 'return=OperationOutcome');
    expect(res.status).toBe(200);
    expect(res.body.issue[0].details.text).toContain(a.id);
    expect(res.body.issue[0].details.text).toContain(b.id);
    await request(kiln.server).get(`/fhir/Patient/${a.id}`).expect(410);
    await request(kiln.server).get(`/fhir/Patient/${b.id}`).expect(410);
    await request(kiln.server).get(`/fhir/Patient/${other.id}`).expect(200);
  });

  it('succeeds with nothing to do when nothing matches', async () => {
    const res = await request(kiln.server).delete(`/fhir/Patient?identifier=${uniqueId('none')}`);
    expect(res.status).toBe(204);
  });

  it('refuses with 412 when more resources match than the configured limit, deleting none', async () => {
    const limited = await (await import('../support/test-server.js')).startTestServer({ KILN_MAX_CONDITIONAL_DELETES: '2' });
    try {
      const mrn = uniqueId('mrn');
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(limited.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(withMrn(mrn)));
        ids.push(res.body.id);
      }
      const res = await request(limited.server).delete(`/fhir/Patient?identifier=${mrn}`);
      expect(res.status).toBe(412);
      for (const id of ids) await request(limited.server).get(`/fhir/Patient/${id}`).expect(200);
    } finally {
      await limited.stop();
    }
  });

  it('needs criteria: DELETE on the type without a query is 405', async () => {
    const res = await request(kiln.server).delete('/fhir/Patient');
    expect(res.status).toBe(405);
  });
});
