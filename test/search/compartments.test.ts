// Patient compartment search and Patient/$everything.
// hl7.org/fhir/R4/compartmentdefinition-patient.html, patient-operation-everything.html
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const ids: Record<string, string> = {};

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  ids.ann = (await s.create({ resourceType: 'Patient', name: [{ family: 'Ashford' }] })).id;
  ids.bob = (await s.create({ resourceType: 'Patient', name: [{ family: 'Barlow' }] })).id;
  const obs = (patient: string, code: string) =>
    s.create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` } });
  ids.annHr = (await obs(ids.ann, '8867-4')).id;
  ids.annBp = (await obs(ids.ann, '85354-9')).id;
  ids.bobHr = (await obs(ids.bob, '8867-4')).id;
  ids.annCond = (await s.create({ resourceType: 'Condition', subject: { reference: `Patient/${ids.ann}` }, code: { text: 'Asthma' } })).id;
  ids.annAllergy = (await s.create({ resourceType: 'AllergyIntolerance', clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] }, patient: { reference: `Patient/${ids.ann}` }, code: { text: 'Peanut' } })).id;
  ids.org = (await s.create({ resourceType: 'Organization', name: 'Not in any compartment' })).id;
});
afterAll(() => kiln.stop());

const get = (url: string) => request(kiln.server).get(url.replace(kiln.fhirUrl, '/fhir'));
const refs = (body: { entry?: { resource: { resourceType: string; id: string } }[] }) =>
  (body.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort();

describe('compartment search', () => {
  it('finds only the resources of that patient, with other criteria too', async () => {
    const all = await get(`/fhir/Patient/${ids.ann}/Observation`);
    expect(all.status).toBe(200);
    expect(refs(all.body)).toEqual([`Observation/${ids.annBp}`, `Observation/${ids.annHr}`].sort());
    const hr = await get(`/fhir/Patient/${ids.ann}/Observation?code=8867-4`);
    expect(refs(hr.body)).toEqual([`Observation/${ids.annHr}`]);
    expect(hr.body.link[0].url).toContain(`/Patient/${ids.ann}/Observation?`);
  });

  it('refuses types never in the compartment, and unknown patients', async () => {
    expect((await get(`/fhir/Patient/${ids.ann}/Organization`)).status).toBe(400);
    expect((await get(`/fhir/Patient/nobody-${Date.now()}/Observation`)).status).toBe(404);
    expect((await get(`/fhir/Organization/${ids.org}/Observation`)).status).toBe(404);
  });

  it('serves the Encounter, Practitioner, RelatedPerson and Device compartments too', async () => {
    const gp = await s.create({ resourceType: 'Practitioner', name: [{ family: 'Careful' }] });
    const device = await s.create({ resourceType: 'Device', status: 'active' });
    const encounter = await s.create({ resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient/${ids.bob}` }, participant: [{ individual: { reference: `Practitioner/${gp.id}` } }] });
    const obs = await s.create({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, encounter: { reference: `Encounter/${encounter.id}` }, device: { reference: `Device/${device.id}` }, performer: [{ reference: `Practitioner/${gp.id}` }] });
    const companion = await s.create({ resourceType: 'RelatedPerson', patient: { reference: `Patient/${ids.bob}` } });
    const told = await s.create({ resourceType: 'Communication', status: 'completed', recipient: [{ reference: `RelatedPerson/${companion.id}` }] });
    expect(refs((await get(`/fhir/Encounter/${encounter.id}/Observation`)).body)).toEqual([`Observation/${obs.id}`]);
    expect(refs((await get(`/fhir/Device/${device.id}/Observation`)).body)).toEqual([`Observation/${obs.id}`]);
    expect(refs((await get(`/fhir/Practitioner/${gp.id}/Encounter`)).body)).toEqual([`Encounter/${encounter.id}`]);
    expect(refs((await get(`/fhir/RelatedPerson/${companion.id}/Communication`)).body)).toEqual([`Communication/${told.id}`]);
    expect(refs((await get(`/fhir/Practitioner/${gp.id}/*`)).body)).toEqual([`Encounter/${encounter.id}`, `Observation/${obs.id}`, `Practitioner/${gp.id}`].sort());
  });

  it('* returns the patient and everything in its compartment', async () => {
    const res = await get(`/fhir/Patient/${ids.ann}/*?_count=100`);
    expect(res.status).toBe(200);
    expect(refs(res.body)).toEqual(
      [`Patient/${ids.ann}`, `Observation/${ids.annHr}`, `Observation/${ids.annBp}`, `Condition/${ids.annCond}`, `AllergyIntolerance/${ids.annAllergy}`].sort(),
    );
  });
});

describe('Patient/$everything', () => {
  it('returns the patient and all of its resources, none of another patient', async () => {
    const res = await get(`/fhir/Patient/${ids.ann}/$everything`);
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('searchset');
    const found = refs(res.body);
    expect(found).toContain(`Patient/${ids.ann}`);
    expect(found).toContain(`AllergyIntolerance/${ids.annAllergy}`);
    expect(found).not.toContain(`Observation/${ids.bobHr}`);
    expect(found).not.toContain(`Patient/${ids.bob}`);
    expect(found).toHaveLength(5);
  });

  it('pages with _count across types to the end, without repeats', async () => {
    let page = (await get(`/fhir/Patient/${ids.ann}/$everything?_count=2`)).body;
    const seen = refs(page);
    let pages = 1;
    for (let next = page.link.find((l: { relation: string }) => l.relation === 'next'); next; next = page.link.find((l: { relation: string }) => l.relation === 'next')) {
      page = (await get(next.url)).body;
      seen.push(...refs(page));
      pages++;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.sort()).toEqual(refs((await get(`/fhir/Patient/${ids.ann}/$everything?_count=100`)).body));
  });

  it('narrows by _type and _since', async () => {
    const typed = await get(`/fhir/Patient/${ids.ann}/$everything?_type=Condition,AllergyIntolerance`);
    expect(refs(typed.body)).toEqual([`AllergyIntolerance/${ids.annAllergy}`, `Condition/${ids.annCond}`].sort());
    const future = await get(`/fhir/Patient/${ids.ann}/$everything?_since=2999-01-01T00:00:00Z`);
    expect(refs(future.body)).toEqual([]);
  });

  it('answers 400 for an unsupported parameter and 404 for an unknown patient', async () => {
    expect((await get(`/fhir/Patient/${ids.ann}/$everything?code=1`)).status).toBe(400);
    expect((await get(`/fhir/Patient/${ids.ann}/$everything?_type=Nothing`)).status).toBe(400);
    expect((await get(`/fhir/Patient/nobody-${Date.now()}/$everything`)).status).toBe(404);
  });
});
