// A subject (or patient) and a code searched together are also looked up as pairs; the answers
// must be exactly those of the two parameters on their own, in every form they can be written.
import request from 'supertest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const ids: Record<string, string> = {};
const LOINC = 'http://loinc.org';
const HEART_RATE = `${LOINC}|8867-4`;

const observation = (patient: string, codes: string[], extra: object = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: codes.map((code) => ({ system: LOINC, code })) },
  subject: { reference: `Patient/${patient}` },
  ...extra,
});

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  ids.anna = (await s.create({ resourceType: 'Patient', name: [{ family: 'Pair' }] })).id;
  ids.bo = (await s.create({ resourceType: 'Patient', name: [{ family: 'Pair' }] })).id;
  ids.annaHeart = (await s.create(observation(ids.anna, ['8867-4']))).id;
  ids.annaWeight = (await s.create(observation(ids.anna, ['29463-7']))).id;
  ids.boHeart = (await s.create(observation(ids.bo, ['8867-4']))).id;
  // 200 codings: more pairs than a row stores one by one.
  const many = Array.from({ length: 199 }, (_, i) => `9${String(i).padStart(4, '0')}-0`);
  ids.annaMany = (await s.create(observation(ids.anna, ['8867-4', ...many]))).id;
  ids.annaCondition = (await s.create({ resourceType: 'Condition', subject: { reference: `Patient/${ids.anna}` }, code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003' }] } })).id;
}, 60_000);

afterAll(async () => {
  await kiln.stop();
});

const sorted = (values: string[]) => [...values].sort();

test('subject and code together match only resources that have both', async () => {
  const found = await s.ids('Observation', `subject=Patient/${ids.anna}&code=${encodeURIComponent(HEART_RATE)}`);
  expect(sorted(found)).toEqual(sorted([ids.annaHeart, ids.annaMany]));
  expect(await s.ids('Observation', `subject=Patient/${ids.bo}&code=29463-7`)).toEqual([]);
});

test('every way of writing the reference and the token gives the same answer', async () => {
  const expected = sorted([ids.annaHeart, ids.annaMany]);
  for (const subject of [`subject=Patient/${ids.anna}`, `subject=${ids.anna}`, `patient=${ids.anna}`, `patient=Patient/${ids.anna}`, `subject:Patient=${ids.anna}`]) {
    for (const code of [encodeURIComponent(HEART_RATE), '8867-4']) {
      expect(sorted(await s.ids('Observation', `${subject}&code=${code}`))).toEqual(expected);
    }
  }
  const absolute = encodeURIComponent(`${kiln.ctx.baseUrl}/Patient/${ids.anna}`);
  expect(sorted(await s.ids('Observation', `subject=${absolute}&code=8867-4`))).toEqual(expected);
});

test('comma lists on either side are an OR within that parameter', async () => {
  const found = await s.ids('Observation', `subject=Patient/${ids.anna},Patient/${ids.bo}&code=8867-4,29463-7`);
  expect(sorted(found)).toEqual(sorted([ids.annaHeart, ids.annaWeight, ids.boHeart, ids.annaMany]));
  expect(sorted(await s.ids('Observation', `subject=${ids.bo}&code=29463-7,8867-4`))).toEqual([ids.boHeart]);
});

test('a resource with more pairs than a row stores is still found by any of its codes', async () => {
  expect(await s.ids('Observation', `subject=Patient/${ids.anna}&code=${LOINC}|90150-0`)).toEqual([ids.annaMany]);
  expect(await s.ids('Observation', `subject=Patient/${ids.bo}&code=${LOINC}|90150-0`)).toEqual([]);
});

test('other types with a subject and a code pair them too', async () => {
  expect(await s.ids('Condition', `patient=${ids.anna}&code=http://snomed.info/sct|38341003`)).toEqual([ids.annaCondition]);
  expect(await s.ids('Condition', `patient=${ids.bo}&code=http://snomed.info/sct|38341003`)).toEqual([]);
});

test('an update moves the resource to its new pair and a delete removes it', async () => {
  const created = await s.create(observation(ids.anna, ['8867-4']));
  const query = (patient: string) => `subject=Patient/${patient}&code=8867-4&_id=${created.id}`;
  expect(await s.ids('Observation', query(ids.anna))).toEqual([created.id]);

  const moved = { ...created, subject: { reference: `Patient/${ids.bo}` } };
  const put = await request(kiln.server).put(`/fhir/Observation/${created.id}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(moved));
  expect(put.status).toBe(200);
  expect(await s.ids('Observation', query(ids.anna))).toEqual([]);
  expect(await s.ids('Observation', query(ids.bo))).toEqual([created.id]);

  expect((await request(kiln.server).delete(`/fhir/Observation/${created.id}`)).status).toBe(204);
  expect(await s.ids('Observation', query(ids.bo))).toEqual([]);
});
