// Every write is validated against the R4 StructureDefinitions: hl7.org/fhir/R4/validation.html
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

interface Issue {
  severity: string;
  code: string;
  details: { text: string };
  expression?: string[];
}

const create = (body: object, type = (body as { resourceType: string }).resourceType) =>
  request(kiln.server).post(`/fhir/${type}`).set('Content-Type', FHIR_JSON).send(json(body));

async function rejected(body: object): Promise<Issue[]> {
  const res = await create(body);
  expect(res.status).toBe(400);
  expect(res.body.resourceType).toBe('OperationOutcome');
  return res.body.issue;
}

const observation = { resourceType: 'Observation', status: 'final', code: { text: 'Heart rate' } };

describe('structure', () => {
  it.each([
    ['a wrong type', { resourceType: 'Patient', active: 'yes' }, 'Patient.active'],
    ['an unknown element', { resourceType: 'Patient', nickname: 'Pete' }, 'Patient.nickname'],
    ['a missing required element', { resourceType: 'Observation', status: 'final' }, 'Observation.code'],
    ['a single value where an array is required', { resourceType: 'Patient', name: { family: 'Smith' } }, 'Patient.name'],
    ['an array where one value is allowed', { resourceType: 'Patient', gender: ['male'] }, 'Patient.gender'],
    ['a malformed date', { resourceType: 'Patient', birthDate: '1990-13-45' }, 'Patient.birthDate'],
    ['a malformed dateTime', { ...observation, effectiveDateTime: 'yesterday' }, 'Observation.effective'],
  ])('rejects %s with an issue at its location', async (_what, body, location) => {
    const issues = await rejected(body);
    expect(issues.some((i) => (i.expression ?? []).some((e) => e.startsWith(location)))).toBe(true);
    expect(issues.every((i) => i.severity === 'error' && i.details.text.length > 0)).toBe(true);
  });

  it('reports one issue per problem', async () => {
    const issues = await rejected({ resourceType: 'Patient', active: 'yes', birthDate: 'soon', nickname: 'x' });
    expect(issues.length).toBeGreaterThanOrEqual(3);
    const locations = issues.flatMap((i) => i.expression ?? []);
    expect(locations).toEqual(expect.arrayContaining(['Patient.active', 'Patient.birthDate', 'Patient.nickname']));
  });

  it('rejects a broken invariant', async () => {
    // ref-1 / ele-1: an element must have a value or children.
    const issues = await rejected({ resourceType: 'Patient', name: [{}] });
    expect(issues.length).toBeGreaterThan(0);
  });
});

describe('required bindings', () => {
  it.each([
    ['Patient.gender', { resourceType: 'Patient', gender: 'xyz' }],
    ['Observation.status', { ...observation, status: 'bogus' }],
    ['Patient.identifier[0].use', { resourceType: 'Patient', identifier: [{ use: 'nonsense', value: '1' }] }],
    ['Patient.telecom[0].system', { resourceType: 'Patient', telecom: [{ system: 'pigeon', value: '1' }] }],
  ])('rejects a code outside the value set of %s', async (location, body) => {
    const issues = await rejected(body);
    expect(issues[0].code).toBe('code-invalid');
    expect(issues[0].expression).toEqual([location]);
  });

  it('are judged together with the structure: every error in one answer', async () => {
    const issues = await rejected({ resourceType: 'Patient', gender: 'xyz', birthDate: 'soon', telecom: [{ system: 'pigeon', value: '1' }] });
    const locations = issues.flatMap((i) => i.expression ?? []);
    expect(locations).toEqual(expect.arrayContaining(['Patient.gender', 'Patient.birthDate', 'Patient.telecom[0].system']));
    expect(issues.find((i) => i.expression?.[0] === 'Patient.gender')?.code).toBe('code-invalid');
  });

  it('are not judged on an element that is itself malformed, which is reported once', async () => {
    const issues = await rejected({ resourceType: 'Patient', gender: { code: 'xyz' }, identifier: [{ use: 'nonsense', value: '1' }] });
    const atGender = issues.filter((i) => (i.expression ?? []).some((e) => e.startsWith('Patient.gender')));
    expect(atGender).toHaveLength(1);
    expect(atGender[0].code).not.toBe('code-invalid');
    expect(issues.some((i) => i.expression?.[0] === 'Patient.identifier[0].use' && i.code === 'code-invalid')).toBe(true);
  });

  it('accepts codes from the value sets', async () => {
    const res = await create({ resourceType: 'Patient', gender: 'female', telecom: [{ system: 'phone', value: '555' }] });
    expect(res.status).toBe(201);
  });
});

describe('references to this server', () => {
  it('rejects a reference to a resource that does not exist, naming where it stands', async () => {
    const issues = await rejected({ ...observation, subject: { reference: `Patient/${uniqueId('ghost')}` } });
    expect(issues[0].code).toBe('not-found');
    expect(issues[0].expression).toEqual(['Observation.subject.reference']);
  });

  it('rejects a reference to a deleted resource and to a version that does not exist', async () => {
    const patient = (await create({ resourceType: 'Patient' })).body;
    await request(kiln.server).delete(`/fhir/Patient/${patient.id}`).expect(204);
    await rejected({ ...observation, subject: { reference: `Patient/${patient.id}` } });
    const other = (await create({ resourceType: 'Patient' })).body;
    await rejected({ ...observation, subject: { reference: `Patient/${other.id}/_history/9` } });
  });

  it('accepts references that exist, absolute ones under this base, contained and external ones', async () => {
    const patient = (await create({ resourceType: 'Patient' })).body;
    const res = await create({
      ...observation,
      contained: [{ resourceType: 'Practitioner', id: 'p1' }],
      subject: { reference: `${kiln.fhirUrl}/Patient/${patient.id}` },
      performer: [{ reference: '#p1' }, { reference: 'http://elsewhere.example.org/fhir/Practitioner/1' }, { reference: `Patient/${patient.id}/_history/1` }],
    });
    expect(res.status).toBe(201);
  });

  it('can be switched off', async () => {
    const lenient = await startTestServer({ KILN_CHECK_REFERENCES: 'false' });
    try {
      const res = await request(lenient.server)
        .post('/fhir/Observation')
        .set('Content-Type', FHIR_JSON)
        .send(json({ ...observation, subject: { reference: `Patient/${uniqueId('ghost')}` } }));
      expect(res.status).toBe(201);
    } finally {
      await lenient.stop();
    }
  });
});

describe('nothing is written when validation fails', () => {
  it('keeps the previous version after a rejected update', async () => {
    const patient = (await create({ resourceType: 'Patient', gender: 'male' })).body;
    const res = await request(kiln.server).put(`/fhir/Patient/${patient.id}`).set('Content-Type', FHIR_JSON).send(json({ ...patient, gender: 'xyz' }));
    expect(res.status).toBe(400);
    const history = await request(kiln.server).get(`/fhir/Patient/${patient.id}/_history`);
    expect(history.body.entry).toHaveLength(1);
    const current = await request(kiln.server).get(`/fhir/Patient/${patient.id}`);
    expect(current.body.gender).toBe('male');
  });
});
