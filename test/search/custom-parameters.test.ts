// Custom SearchParameter resources take effect after $reindex, for existing and new resources.
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const URL = 'http://example.org/fhir/SearchParameter/patient-nickname';
const CODE = 'kiln-test-nickname';

const removeDefinitions = async () => {
  await request(kiln.server).delete(`/fhir/SearchParameter?url=${encodeURIComponent(URL)}`).expect(204);
  await request(kiln.server).delete(`/fhir/SearchParameter?url=${encodeURIComponent('http://example.org/fhir/SearchParameter/clash')}`).expect(204);
  await request(kiln.server).post('/fhir/$reindex?_type=Patient').expect(200);
};

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  await removeDefinitions();
});
afterAll(async () => {
  await removeDefinitions();
  await kiln.stop();
});

const nicknamed = (given: string, nickname: string) =>
  s.create({ resourceType: 'Patient', name: [{ use: 'official', given: [given] }, { use: 'nickname', given: [nickname] }] });

it('answers a custom parameter only after $reindex, for resources stored before and after', async () => {
  const robert = await nicknamed('Robert', 'Bobby');
  await nicknamed('Elizabeth', 'Liz');
  expect((await s.search('Patient', `${CODE}=bob`)).status).toBe(400);

  const definition = {
    resourceType: 'SearchParameter',
    url: URL,
    name: 'nickname',
    status: 'active',
    description: 'A nickname of the patient',
    code: CODE,
    base: ['Patient'],
    type: 'string',
    expression: "Patient.name.where(use = 'nickname').given",
  };
  await request(kiln.server).post('/fhir/SearchParameter').set('Content-Type', FHIR_JSON).send(json(definition)).expect(201);
  const clash = { ...definition, url: 'http://example.org/fhir/SearchParameter/clash', code: 'name' };
  await request(kiln.server).post('/fhir/SearchParameter').set('Content-Type', FHIR_JSON).send(json(clash)).expect(201);
  // Stored, but not answered yet: existing resources have no values for it.
  expect((await s.search('Patient', `${CODE}=bob`)).status).toBe(400);

  const reindexed = await request(kiln.server).post('/fhir/$reindex').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Parameters', parameter: [{ name: 'type', valueCode: 'Patient' }] }));
  expect(reindexed.status).toBe(200);
  const parameters = reindexed.body.parameter as { name: string; valueString?: string; part?: { name: string; valueInteger?: number; valueString?: string }[] }[];
  expect(parameters).toContainEqual({ name: 'searchParameter', valueString: `Patient.${CODE}` });
  expect(parameters.find((p) => p.name === 'reindexed')?.part?.find((p) => p.name === 'count')?.valueInteger).toBeGreaterThanOrEqual(2);
  expect(JSON.stringify(parameters.filter((p) => p.name === 'rejected'))).toContain('already has the R4 parameter');

  expect(await s.ids('Patient', `${CODE}=bob`)).toEqual([robert.id]);
  const later = await nicknamed('Margaret', 'Peggy');
  expect(await s.ids('Patient', `${CODE}=peg`)).toEqual([later.id]);
  expect(await s.ids('Patient', `${CODE}=robert`)).toEqual([]);

  const cs = (await request(kiln.server).get('/fhir/metadata')).body;
  const patient = cs.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
  expect(patient.searchParam.map((p: { name: string }) => p.name)).toContain(CODE);
});

it('stops answering a parameter whose definition is deleted, after $reindex', async () => {
  await removeDefinitions();
  expect((await s.search('Patient', `${CODE}=bob`)).status).toBe(400);
});

it('refuses $reindex of an unknown type', async () => {
  expect((await request(kiln.server).post('/fhir/$reindex?_type=Nothing')).status).toBe(400);
});
