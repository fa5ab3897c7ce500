// The scope matrix and the role rules on every kind of interaction: reads, searches (narrowed,
// not failed), _include and _revinclude, $everything, compartment search, writes, transactions.
// A patient's token never reaches another patient's data.
import request from 'supertest';
import { create } from '../../server/fhir/interactions/create.js';
import type { TestServer } from '../support/test-server.js';
import { newClient, newUser, signIn, startAuthServer } from './support.js';

let kiln: TestServer & { origin: string };
let clientId: string;
const ids: Record<string, string> = {};
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

const observation = (patient: string, category: string) => ({
  resourceType: 'Observation' as const,
  status: 'final' as const,
  category: [{ coding: [{ system: CATEGORY, code: category }] }],
  code: { text: category },
  subject: { reference: `Patient/${patient}` },
});

beforeAll(async () => {
  kiln = await startAuthServer();
  ({ client: { clientId } } = await newClient(kiln, { scope: 'launch launch/patient openid fhirUser patient/*.cruds user/*.cruds patient/Observation.rs?category=vital-signs' }));
  const make = async (resource: Record<string, unknown>) => (await create(kiln.ctx, resource as never)).id;
  ids.a = await make({ resourceType: 'Patient', name: [{ family: 'Alpha' }] });
  ids.b = await make({ resourceType: 'Patient', name: [{ family: 'Beta' }] });
  ids.aVital = await make(observation(ids.a, 'vital-signs'));
  ids.aLab = await make(observation(ids.a, 'laboratory'));
  ids.bVital = await make(observation(ids.b, 'vital-signs'));
  ids.device = await make({ resourceType: 'Device', status: 'active' });
});
afterAll(() => kiln.stop());

type Tokens = Awaited<ReturnType<typeof signIn>>;
const as = (tokens: Tokens) => ({
  get: (path: string) => request(kiln.server).get(`/fhir/${path}`).set('Authorization', `Bearer ${tokens.access_token}`),
  post: (path: string, body: unknown) =>
    request(kiln.server).post(`/fhir/${path}`).set('Authorization', `Bearer ${tokens.access_token}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
  put: (path: string, body: unknown) =>
    request(kiln.server).put(`/fhir/${path}`).set('Authorization', `Bearer ${tokens.access_token}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
});
const matchIds = (res: request.Response) => (res.body.entry ?? []).filter((e: { search?: { mode: string } }) => e.search?.mode !== 'include').map((e: { resource: { id: string } }) => e.resource.id).sort();
const includedIds = (res: request.Response) => (res.body.entry ?? []).filter((e: { search?: { mode: string } }) => e.search?.mode === 'include').map((e: { resource: { id: string } }) => e.resource.id).sort();

describe("a patient's token", () => {
  let patient: ReturnType<typeof as>;
  beforeAll(async () => {
    const user = await newUser(kiln, 'patient', `Patient/${ids.a}`);
    patient = as(await signIn(kiln, { clientId, scope: 'launch/patient openid fhirUser patient/*.rs patient/Observation.c', username: user.username }));
  });

  it('reads its own data, and another patient\'s answers exactly as what does not exist', async () => {
    expect((await patient.get(`Observation/${ids.aVital}`)).status).toBe(200);
    expect((await patient.get(`Patient/${ids.a}`)).status).toBe(200);
    for (const [path, unknown] of [
      [`Observation/${ids.bVital}`, 'Observation/no-such-id'],
      [`Patient/${ids.b}`, 'Patient/no-such-id'],
      [`Observation/${ids.bVital}/_history/1`, 'Observation/no-such-id/_history/1'],
      [`Observation/${ids.bVital}/_history`, 'Observation/no-such-id/_history'],
    ]) {
      const [res, missing] = [await patient.get(path), await patient.get(unknown)];
      expect([path, res.status, res.body.resourceType]).toEqual([path, 404, 'OperationOutcome']);
      expect(JSON.stringify(res.body).replace(path.split('/')[1], 'no-such-id')).toBe(JSON.stringify(missing.body));
    }
  });

  it('searches only its own compartment: narrowed, not failed', async () => {
    expect(matchIds(await patient.get('Observation'))).toEqual([ids.aVital, ids.aLab].sort());
    expect(matchIds(await patient.get(`Observation?subject=Patient/${ids.b}`))).toEqual([]);
    expect(matchIds(await patient.get('Patient'))).toEqual([ids.a]);
    const system = await patient.get('?_type=Observation,Patient');
    expect(system.status).toBe(200);
    expect(matchIds(system)).toEqual([ids.a, ids.aVital, ids.aLab].sort());
  });

  it('gets no other patient through _include or _revinclude', async () => {
    const res = await patient.get(`Observation?_include=Observation:subject`);
    expect(includedIds(res)).toEqual([ids.a]);
    // Asking for both patients by id finds only its own, and only its own Observations come with it.
    const rev = await patient.get(`Patient?_id=${ids.a},${ids.b}&_revinclude=Observation:subject`);
    expect(matchIds(rev)).toEqual([ids.a]);
    expect(includedIds(rev)).toEqual([ids.aVital, ids.aLab].sort());
  });

  it('gets $everything and compartment search for itself only', async () => {
    expect((await patient.get(`Patient/${ids.a}/$everything`)).status).toBe(200);
    expect((await patient.get(`Patient/${ids.b}/$everything`)).status).toBe(404);
    expect((await patient.get(`Patient/${ids.b}/Observation`)).status).toBe(404);
    // History of the whole server is narrowed to the patient's own versions.
    const history = await patient.get('_history?_count=1000');
    expect(history.status).toBe(200);
    const seen = (history.body.entry ?? []).map((e: { fullUrl: string }) => e.fullUrl.split('/').slice(-2).join('/'));
    expect(seen).toEqual(expect.arrayContaining([`Patient/${ids.a}`, `Observation/${ids.aVital}`]));
    expect(seen.filter((ref: string) => ref.endsWith(ids.b) || ref.endsWith(ids.bVital))).toEqual([]);
  });

  it('writes only what its scopes allow, and only in its own compartment', async () => {
    expect((await patient.post('Observation', observation(ids.a, 'vital-signs'))).status).toBe(201);
    // Another patient does not exist for this token: a reference to it is refused like a dangling one.
    const other = await patient.post('Observation', observation(ids.b, 'vital-signs'));
    const nobody = await patient.post('Observation', observation('no-such-patient', 'vital-signs'));
    expect([other.status, nobody.status]).toEqual([400, 400]);
    expect(JSON.stringify(other.body).replaceAll(ids.b, 'no-such-patient')).toBe(JSON.stringify(nobody.body));
    expect((await patient.post('Patient', { resourceType: 'Patient' })).status).toBe(403);
    const transaction = await patient.post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: observation(ids.a, 'vital-signs'), request: { method: 'POST', url: 'Observation' } },
        { resource: observation(ids.b, 'vital-signs'), request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expect(transaction.status).toBe(403);
    expect(JSON.stringify(transaction.body)).toContain('Bundle.entry[1]');
  });

  it("reads a Binary through its securityContext: its own resource's, never another patient's", async () => {
    const binary = (context: string) => create(kiln.ctx, { resourceType: 'Binary', contentType: 'text/plain', data: 'aGk=', securityContext: { reference: context } } as never);
    const ownObservation = await binary(`Observation/${ids.aVital}`);
    const othersObservation = await binary(`Observation/${ids.bVital}`);
    const nobodys = await binary(`Device/${ids.device}`);
    expect((await patient.get(`Binary/${ownObservation.id}`)).status).toBe(200);
    expect((await patient.get(`Binary/${othersObservation.id}`)).status).toBe(404);
    expect((await patient.get(`Binary/${nobodys.id}`)).status).toBe(404);
    expect(matchIds(await patient.get(`Binary?_id=${ownObservation.id},${othersObservation.id},${nobodys.id}`))).toEqual([ownObservation.id]);
  });

  it('stays confined to its own patient even with user/ scopes', async () => {
    const user = await newUser(kiln, 'patient', `Patient/${ids.a}`);
    const broad = as(await signIn(kiln, { clientId, scope: 'user/*.cruds', username: user.username }));
    expect((await broad.get(`Observation/${ids.bVital}`)).status).toBe(404);
    expect((await broad.put(`Observation/${ids.bVital}`, { ...observation(ids.b, 'vital-signs'), id: ids.bVital })).status).toBe(404);
    expect(matchIds(await broad.get('Observation'))).not.toContain(ids.bVital);
  });
});

describe('a practitioner', () => {
  let practitioner: Awaited<ReturnType<typeof newUser>>;
  beforeAll(async () => {
    practitioner = await newUser(kiln, 'practitioner', 'Practitioner/dr-1');
  });

  it('with user/ scopes reads any patient\'s data, within the scope\'s types and permissions', async () => {
    const token = as(await signIn(kiln, { clientId, scope: 'user/Observation.rs', username: practitioner.username }));
    expect((await token.get(`Observation/${ids.bVital}`)).status).toBe(200);
    expect(matchIds(await token.get(`Observation?subject=Patient/${ids.b}`))).toEqual([ids.bVital]);
    expect((await token.get('Patient')).status).toBe(403);
    expect((await token.post('Observation', observation(ids.a, 'vital-signs'))).status).toBe(403);
  });

  it('with a v2 query filter sees only what the filter allows', async () => {
    const admin = await newUser(kiln, 'admin');
    const adminToken = await signIn(kiln, { clientId, scope: 'user/*.cruds', username: admin.username });
    const launch = await request(kiln.server).post('/admin/launch').set('Authorization', `Bearer ${adminToken.access_token}`).send({ patient: ids.a });
    const filtered = as(await signIn(kiln, { clientId, scope: 'launch patient/Observation.rs?category=vital-signs', username: practitioner.username, launch: launch.body.launch }));
    const found = matchIds(await filtered.get('Observation'));
    expect(found).toContain(ids.aVital);
    expect(found).not.toContain(ids.aLab);
    expect(found).not.toContain(ids.bVital);
    expect((await filtered.get(`Observation/${ids.aVital}`)).status).toBe(200);
    expect((await filtered.get(`Observation/${ids.aLab}`)).status).toBe(403);
  });

  it('with v1 scopes: .read reads and searches, .write creates', async () => {
    const { client } = await newClient(kiln, { scope: 'user/Observation.read user/Observation.write' });
    const reader = as(await signIn(kiln, { clientId: client.clientId, scope: 'user/Observation.read', username: practitioner.username }));
    expect((await reader.get(`Observation/${ids.aLab}`)).status).toBe(200);
    expect((await reader.post('Observation', observation(ids.a, 'laboratory'))).status).toBe(403);
    const writer = as(await signIn(kiln, { clientId: client.clientId, scope: 'user/Observation.write', username: practitioner.username }));
    expect((await writer.post('Observation', observation(ids.a, 'laboratory'))).status).toBe(201);
    expect((await writer.get(`Observation/${ids.aLab}`)).status).toBe(403);
  });
});

describe('role rules', () => {
  it('lets a device create Observations and update its own Device, nothing else', async () => {
    const device = await newUser(kiln, 'device', `Device/${ids.device}`);
    const token = as(await signIn(kiln, { clientId, scope: 'user/*.cruds', username: device.username }));
    expect((await token.post('Observation', observation(ids.a, 'vital-signs'))).status).toBe(201);
    expect((await token.get(`Observation/${ids.aVital}`)).status).toBe(403);
    expect((await token.post('Patient', { resourceType: 'Patient' })).status).toBe(403);
    expect((await token.put(`Device/${ids.device}`, { resourceType: 'Device', id: ids.device, status: 'inactive' })).status).toBe(200);
  });

  it('lets no one write AuditEvents, and only administrators read them', async () => {
    const admin = await newUser(kiln, 'admin');
    const adminToken = as(await signIn(kiln, { clientId, scope: 'user/*.cruds', username: admin.username }));
    const audit = { resourceType: 'AuditEvent', type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' }, recorded: '2024-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } };
    expect((await adminToken.post('AuditEvent', audit)).status).toBe(403);
    expect((await adminToken.get('AuditEvent')).status).toBe(200);
    const doctor = await newUser(kiln, 'practitioner', 'Practitioner/dr-2');
    expect((await as(await signIn(kiln, { clientId, scope: 'user/*.cruds', username: doctor.username })).get('AuditEvent')).status).toBe(403);
  });

  it('lets only administrators run $reindex', async () => {
    const doctor = await newUser(kiln, 'practitioner', 'Practitioner/dr-3');
    const token = await signIn(kiln, { clientId, scope: 'user/*.cruds', username: doctor.username });
    const res = await request(kiln.server).post('/fhir/$reindex').set('Authorization', `Bearer ${token.access_token}`);
    expect(res.status).toBe(403);
  });
});
