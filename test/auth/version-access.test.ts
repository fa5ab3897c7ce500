// Every version served is checked on its own (issue 10): a resource that moved from one patient to
// another shows each patient only its own versions, through read, vread, instance and type history
// and Bundle entries; a v2 filtered scope shows only the versions that meet its filter.
import type { Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { create } from '../../server/fhir/interactions/create.js';
import { deleteResource } from '../../server/fhir/interactions/delete.js';
import { update } from '../../server/fhir/interactions/update.js';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let patientToken: string;
let filteredToken: string;
const ids: Record<string, string> = {};
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

const observation = (patient: string, category: string, id?: string): Resource =>
  ({
    resourceType: 'Observation',
    ...(id ? { id } : {}),
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: category }] }],
    code: { text: 'heart rate' },
    subject: { reference: `Patient/${patient}` },
  }) as Resource;

/** Writes `first`, then `second` over it: the two versions of one Observation. */
async function twoVersions(first: Resource, second: (id: string) => Resource): Promise<string> {
  const { id } = await create(kiln.ctx, first);
  await update(kiln.ctx, 'Observation', id, second(id));
  return id;
}

beforeAll(async () => {
  kiln = await startAuthServer();
  const { client } = await newClient(kiln, { scope: 'launch launch/patient patient/*.rs patient/Observation.rs?category=vital-signs user/*.cruds' });
  ids.a = (await create(kiln.ctx, { resourceType: 'Patient' })).id;
  ids.b = (await create(kiln.ctx, { resourceType: 'Patient' })).id;
  ids.toA = await twoVersions(observation(ids.b, 'vital-signs'), (id) => observation(ids.a, 'vital-signs', id));
  ids.fromA = await twoVersions(observation(ids.a, 'vital-signs'), (id) => observation(ids.b, 'vital-signs', id));
  ids.intoFilter = await twoVersions(observation(ids.a, 'laboratory'), (id) => observation(ids.a, 'vital-signs', id));
  ids.deletedB = (await create(kiln.ctx, observation(ids.b, 'vital-signs'))).id;
  await deleteResource(kiln.ctx, 'Observation', ids.deletedB);
  const patientUser = await newUser(kiln, 'patient', `Patient/${ids.a}`);
  patientToken = (await signIn(kiln, { clientId: client.clientId, scope: 'launch/patient patient/*.rs', username: patientUser.username })).access_token;
  const admin = await newUser(kiln, 'admin');
  const adminToken = (await signIn(kiln, { clientId: client.clientId, scope: 'user/*.cruds', username: admin.username })).access_token;
  const launch = (await request(kiln.server).post('/admin/launch').set('Authorization', `Bearer ${adminToken}`).send({ patient: ids.a })).body.launch;
  const practitioner = await newUser(kiln, 'practitioner', 'Practitioner/dr-versions');
  filteredToken = (await signIn(kiln, { clientId: client.clientId, scope: 'launch patient/Observation.rs?category=vital-signs', username: practitioner.username, launch })).access_token;
});
afterAll(() => kiln.stop());

const get = (token: string, path: string) => request(kiln.server).get(`/fhir/${path}`).set('Authorization', `Bearer ${token}`);
const versions = (res: request.Response, id: string) =>
  (res.body.entry ?? []).filter((e: { fullUrl: string }) => e.fullUrl.endsWith(`/${id}`)).map((e: { response: { etag: string } }) => e.response.etag);

describe("a patient's token, on a resource that moved between patients", () => {
  it('sees only the versions that were its own, each by vread and history', async () => {
    expect((await get(patientToken, `Observation/${ids.toA}`)).status).toBe(200);
    expect((await get(patientToken, `Observation/${ids.toA}/_history/1`)).status).toBe(404);
    expect((await get(patientToken, `Observation/${ids.toA}/_history/2`)).status).toBe(200);
    expect(versions(await get(patientToken, `Observation/${ids.toA}/_history`), ids.toA)).toEqual(['W/"2"']);

    expect((await get(patientToken, `Observation/${ids.fromA}`)).status).toBe(404);
    expect((await get(patientToken, `Observation/${ids.fromA}/_history/1`)).status).toBe(200);
    expect((await get(patientToken, `Observation/${ids.fromA}/_history/2`)).status).toBe(404);
    expect(versions(await get(patientToken, `Observation/${ids.fromA}/_history`), ids.fromA)).toEqual(['W/"1"']);
  });

  it('sees the same in type history and in Bundle entries', async () => {
    const typeHistory = await get(patientToken, 'Observation/_history?_count=1000');
    expect(versions(typeHistory, ids.toA)).toEqual(['W/"2"']);
    expect(versions(typeHistory, ids.fromA)).toEqual(['W/"1"']);
    const batch = await request(kiln.server)
      .post('/fhir')
      .set('Authorization', `Bearer ${patientToken}`)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry: [1, 2].map((v) => ({ request: { method: 'GET', url: `Observation/${ids.toA}/_history/${v}` } })) }));
    expect(batch.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['404 Not Found', '200 OK']);
  });

  it("learns nothing of another patient's deleted resource: it answers as one that never existed", async () => {
    for (const path of [`Observation/${ids.deletedB}`, `Observation/${ids.deletedB}/_history`, `Observation/${ids.deletedB}/_history/2`]) {
      const [res, unknown] = [await get(patientToken, path), await get(patientToken, path.replace(ids.deletedB, 'no-such-id'))];
      expect([path, res.status]).toEqual([path, 404]);
      expect(JSON.stringify(res.body).replaceAll(ids.deletedB, 'no-such-id')).toBe(JSON.stringify(unknown.body));
    }
  });
});

describe('a v2 filtered scope', () => {
  it('shows only the versions that meet its filter, judged on each version', async () => {
    expect((await get(filteredToken, `Observation/${ids.intoFilter}`)).status).toBe(200);
    expect((await get(filteredToken, `Observation/${ids.intoFilter}/_history/1`)).status).toBe(403);
    expect((await get(filteredToken, `Observation/${ids.intoFilter}/_history/2`)).status).toBe(200);
    expect(versions(await get(filteredToken, `Observation/${ids.intoFilter}/_history`), ids.intoFilter)).toEqual(['W/"2"']);
    expect(versions(await get(filteredToken, 'Observation/_history?_count=1000'), ids.intoFilter)).toEqual(['W/"2"']);
  });
});
