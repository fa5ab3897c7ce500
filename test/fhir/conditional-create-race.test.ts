// Conditional create (hl7.org/fhir/R4/http.html#ccreate) under concurrency: clients that ask for
// the same criteria, however they spell them, make one resource between them. On Postgres the
// creates run on separate connections at once, so this holds only if they serialise on the
// criteria as parsed, not as written.
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const SYSTEM = 'http://hospital.example.org/mrn';

it('20 concurrent creates spelling the same If-None-Exist three ways make exactly one resource, race after race', async () => {
  for (let round = 0; round < 5; round++) {
    const mrn = uniqueId('race');
    const spellings = [`identifier=${SYSTEM}|${mrn}`, `identifier=${SYSTEM}%7C${mrn}`, `identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}`];
    const body = json({ resourceType: 'Patient', identifier: [{ system: SYSTEM, value: mrn }] });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).set('If-None-Exist', spellings[i % 3]).send(body)),
    );
    const found = await request(kiln.server).get(`/fhir/Patient?identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}&_summary=count`);
    expect({ round, total: found.body.total }).toEqual({ round, total: 1 });
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(19);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  }
});

it('the same race inside transactions, with the criteria spelled differently, makes one resource', async () => {
  const mrn = uniqueId('race-tx');
  const spellings = [`identifier=${SYSTEM}|${mrn}`, `identifier=${SYSTEM}%7C${mrn}`, `identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}`];
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      request(kiln.server)
        .post('/fhir')
        .set('Content-Type', FHIR_JSON)
        .send(json({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', identifier: [{ system: SYSTEM, value: mrn }] }, request: { method: 'POST', url: 'Patient', ifNoneExist: spellings[i % 3] } }] })),
    ),
  );
  expect(answers.every((a) => a.status === 200)).toBe(true);
  const found = await request(kiln.server).get(`/fhir/Patient?identifier=${encodeURIComponent(`${SYSTEM}|${mrn}`)}&_summary=count`);
  expect(found.body.total).toBe(1);
});
