// Formats, _pretty, _summary and _elements: hl7.org/fhir/R4/http.html#mime-type, search.html#summary
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
let patientId: string;
beforeAll(async () => {
  kiln = await startTestServer();
  const res = await request(kiln.server)
    .post('/fhir/Patient')
    .set('Content-Type', FHIR_JSON)
    .send(
      json({
        resourceType: 'Patient',
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Peter Chalmers</div>' },
        identifier: [{ system: 'urn:mrn', value: '12345' }],
        active: true,
        name: [{ family: 'Chalmers' }],
        gender: 'male',
        birthDate: '1974-12-25',
        _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1974-12-25T14:35:45-05:00' }] },
        maritalStatus: { text: 'married' },
        contact: [{ name: { family: 'Du Marché' }, gender: 'female', relationship: [{ text: 'partner' }] }],
      }),
    );
  patientId = res.body.id;
});
afterAll(() => kiln.stop());

const read = (query = '', accept?: string) => {
  const req = request(kiln.server).get(`/fhir/Patient/${patientId}${query}`);
  if (accept) req.set('Accept', accept);
  return req;
};

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

describe('content negotiation', () => {
  it.each(['application/fhir+json', 'application/json', '*/*', 'text/html,application/xhtml+xml,*/*;q=0.8'])('answers JSON for Accept %s', async (accept) => {
    const res = await read('', accept);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
  });

  it.each(['json', 'application/fhir+json', 'application/json'])('answers JSON for _format=%s', async (format) => {
    expect((await read(`?_format=${encodeURIComponent(format)}`)).status).toBe(200);
  });

  it('answers 406 for a format it cannot produce', async () => {
    for (const res of [await read('', 'application/fhir+xml'), await read('?_format=xml'), await read('?_format=text/turtle'), await read('', 'text/html')]) {
      expect(res.status).toBe(406);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('_pretty', () => {
  it('indents when asked and not otherwise', async () => {
    expect((await read('?_pretty=true')).text).toContain('\n  "resourceType": "Patient"');
    expect((await read()).text).not.toContain('\n');
    expect((await read('?_pretty=maybe')).status).toBe(400);
  });
});

describe('_summary', () => {
  it('true keeps the summary elements and tags the result SUBSETTED', async () => {
    const res = await read('?_summary=true');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['active', 'birthDate', '_birthDate', 'gender', 'id', 'identifier', 'meta', 'name', 'resourceType'].sort());
    expect(res.body.meta.tag).toContainEqual(SUBSETTED);
  });

  it('text keeps the narrative and mandatory elements only', async () => {
    const res = await read('?_summary=text');
    expect(Object.keys(res.body).sort()).toEqual(['id', 'meta', 'resourceType', 'text']);
  });

  it('data drops only the narrative', async () => {
    const res = await read('?_summary=data');
    expect(res.body.text).toBeUndefined();
    expect(res.body.contact).toHaveLength(1);
  });

  it('false returns everything, and an unknown value is 400', async () => {
    expect((await read('?_summary=false')).body.contact).toHaveLength(1);
    expect((await read('?_summary=some')).status).toBe(400);
    expect((await read('?_summary=count')).status).toBe(400);
  });
});

describe('_elements', () => {
  it('keeps the named elements plus id and meta, tagged SUBSETTED', async () => {
    const res = await read('?_elements=gender,birthDate');
    expect(Object.keys(res.body).sort()).toEqual(['_birthDate', 'birthDate', 'gender', 'id', 'meta', 'resourceType']);
    expect(res.body.meta.tag).toContainEqual(SUBSETTED);
  });

  it('cannot be combined with _summary', async () => {
    expect((await read('?_elements=gender&_summary=true')).status).toBe(400);
  });
});
