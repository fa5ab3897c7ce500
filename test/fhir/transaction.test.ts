// Transaction Bundles (hl7.org/fhir/R4/http.html#transaction): all or nothing, in the order the
// specification sets, with fullUrls and conditional references resolved in every entry.
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const MRN = 'http://hospital.example.org/mrn';
type Entry = { fullUrl?: string; resource?: Record<string, unknown>; request?: Record<string, unknown> };
const bundle = (entry: Entry[], type = 'transaction') => ({ resourceType: 'Bundle', type, entry });
const post = (body: unknown, prefer?: string) => {
  const req = request(kiln.server).post('/fhir').set('Content-Type', FHIR_JSON);
  if (prefer) req.set('Prefer', prefer);
  return req.send(json(body));
};
const patient = (mrn: string, extra: object = {}) => ({ resourceType: 'Patient', identifier: [{ system: MRN, value: mrn }], ...extra });
const uuid = () => `urn:uuid:${crypto.randomUUID()}`;
const countByMrn = async (mrn: string) => (await request(kiln.server).get(`/fhir/Patient?identifier=${MRN}|${mrn}&_summary=count`)).body.total as number;
const read = async (location: string) => (await request(kiln.server).get(`/fhir/${location.replace(/\/_history\/.*$/, '')}`)).body;

describe('a transaction', () => {
  it('writes every entry and answers a transaction-response with status, location, etag and lastModified per entry', async () => {
    const mrn = uniqueId('mrn');
    const p = uuid();
    const res = await post(
      bundle([
        { fullUrl: p, resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: uuid(), resource: { resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, subject: { reference: p } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('Bundle');
    expect(res.body.type).toBe('transaction-response');
    expect(res.body.entry).toHaveLength(2);
    for (const entry of res.body.entry) {
      expect(entry.response.status).toBe('201 Created');
      expect(entry.response.location).toMatch(/^(Patient|Observation)\/[^/]+\/_history\/1$/);
      expect(entry.response.etag).toBe('W/"1"');
      expect(new Date(entry.response.lastModified).getTime()).not.toBeNaN();
    }
    const [patientEntry, observationEntry] = res.body.entry;
    expect(patientEntry.resource.identifier[0].value).toBe(mrn);
    const observation = await read(observationEntry.response.location);
    expect(observation.subject.reference).toBe(`Patient/${patientEntry.resource.id}`);
  });

  it('rewrites urn:uuid, urn:oid and absolute fullUrls everywhere: references, extensions, contained resources, uris and narrative', async () => {
    const p = uuid();
    const practitioner = 'urn:oid:1.2.3.4.5';
    const absolute = 'http://other.example.org/fhir/Organization/org-1';
    const res = await post(
      bundle([
        {
          fullUrl: uuid(),
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'pulse' },
            text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml"><a href="${p}">the patient</a></div>` },
            subject: { reference: p },
            performer: [{ reference: practitioner }, { reference: absolute }],
            extension: [{ url: 'http://example.org/fhir/StructureDefinition/seen-by', valueReference: { reference: practitioner } }],
            contained: [{ resourceType: 'Provenance', id: 'prov', target: [{ reference: p }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { reference: absolute } }] }],
          },
          request: { method: 'POST', url: 'Observation' },
        },
        { fullUrl: p, resource: { resourceType: 'Patient', managingOrganization: { reference: absolute } }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: practitioner, resource: { resourceType: 'Practitioner' }, request: { method: 'POST', url: 'Practitioner' } },
        { fullUrl: absolute, resource: { resourceType: 'Organization', name: 'Other' }, request: { method: 'POST', url: 'Organization' } },
      ]),
    );
    expect(res.status).toBe(200);
    const [obs, pat, prac, org] = res.body.entry.map((e: { response: { location: string } }) => e.response.location.replace(/\/_history\/.*$/, ''));
    expect(org).not.toBe('Organization/org-1'); // a create gets a new id; references follow it
    const observation = await read(obs);
    expect(observation.subject.reference).toBe(pat);
    expect(observation.performer.map((r: { reference: string }) => r.reference)).toEqual([prac, org]);
    expect(observation.extension[0].valueReference.reference).toBe(prac);
    expect(observation.contained[0].target[0].reference).toBe(pat);
    expect(observation.contained[0].agent[0].who.reference).toBe(org);
    expect(observation.text.div).toContain(`href="${pat}"`);
    expect((await read(pat)).managingOrganization.reference).toBe(org);
  });

  it('reads a relative reference against the base of an absolute fullUrl', async () => {
    const base = 'http://elsewhere.example.org/fhir';
    const res = await post(
      bundle([
        { fullUrl: `${base}/Observation/o1`, resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: `${base}/Patient/p1`, resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(res.status).toBe(200);
    const patientId = res.body.entry[1].response.location.split('/')[1];
    expect((await read(res.body.entry[0].response.location)).subject.reference).toBe(`Patient/${patientId}`);
  });

  it('writes nothing when one entry is invalid, and names that entry by index and fullUrl', async () => {
    const mrn = uniqueId('mrn');
    const bad = uuid();
    const res = await post(
      bundle([
        { fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: uuid(), resource: patient(`${mrn}-b`), request: { method: 'PUT', url: `Patient/${uniqueId('p')}` } },
        { fullUrl: bad, resource: { resourceType: 'Observation', status: 'not-a-status', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    const text = res.body.issue.map((i: { details: { text: string } }) => i.details.text).join(' ');
    expect(text).toContain('Bundle.entry[2]');
    expect(text).toContain(bad);
    expect(await countByMrn(mrn)).toBe(0);
    expect(await countByMrn(`${mrn}-b`)).toBe(0);
  });

  it('processes DELETE, then POST, then PUT and PATCH, then GET, and answers in the order of the request', async () => {
    const mrn = uniqueId('mrn');
    const old = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(`${mrn}-old`)))).body;
    const kept = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(`${mrn}-kept`)))).body;
    const patched = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(`${mrn}-patched`)))).body;
    const patch = Buffer.from(json([{ op: 'add', path: '/active', value: true }])).toString('base64');
    const entries = [
      { request: { method: 'GET', url: `Patient?identifier=${MRN}|${mrn}` } },
      { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${patched.id}` } },
      { resource: { ...kept, gender: 'other' }, request: { method: 'PUT', url: `Patient/${kept.id}` } },
      { fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'DELETE', url: `Patient/${old.id}` } },
    ];
    const res = await post(bundle([...entries, { request: { method: 'GET', url: `Patient/${old.id}` } }]));
    // The GET of the deleted resource fails the whole transaction: nothing of it stays.
    expect(res.status).toBe(410);
    expect(await countByMrn(mrn)).toBe(0);
    expect((await request(kiln.server).get(`/fhir/Patient/${old.id}`)).status).toBe(200);

    const ok = await post(bundle(entries));
    expect(ok.status).toBe(200);
    expect(ok.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['200 OK', '200 OK', '200 OK', '201 Created', '204 No Content']);
    // GET ran after the POST, so the search finds the new patient.
    expect(ok.body.entry[0].resource.entry).toHaveLength(1);
    expect((await request(kiln.server).get(`/fhir/Patient/${old.id}`)).status).toBe(410);
    const after = await read(`Patient/${kept.id}`);
    expect(after.meta.versionId).toBe('2');
    expect(after.gender).toBe('other');
    expect((await read(`Patient/${patched.id}`)).active).toBe(true);
  });

  it('fails as a whole when its DELETE, POST, PUT and PATCH entries touch the same resource (R4 http.html#trules)', async () => {
    const mrn = uniqueId('mrn');
    const target = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)))).body;
    const patch = Buffer.from(json([{ op: 'add', path: '/active', value: true }])).toString('base64');
    const put = { resource: { ...target, gender: 'other' }, request: { method: 'PUT', url: `Patient/${target.id}` } };
    const overlaps: [string, Entry[]][] = [
      ['DELETE and PUT', [{ request: { method: 'DELETE', url: `Patient/${target.id}` } }, put]],
      ['conditional DELETE and PUT', [{ request: { method: 'DELETE', url: `Patient?identifier=${MRN}|${mrn}` } }, put]],
      ['PUT and PATCH', [put, { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: patch }, request: { method: 'PATCH', url: `Patient/${target.id}` } }]],
      ['POST whose ifNoneExist matches, and PUT', [{ fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${MRN}|${mrn}` } }, put]],
      ['two PUTs', [put, put]],
    ];
    for (const [what, entries] of overlaps) {
      const res = await post(bundle(entries));
      expect([what, res.status, res.body.issue?.[0]?.details?.text]).toEqual([what, 400, expect.stringContaining('may not overlap')]);
    }
    const after = await read(`Patient/${target.id}`);
    expect([after.meta.versionId, after.gender, after.active]).toEqual(['1', target.gender, undefined]);
  });

  it('resolves conditional references, and refuses one that matches several (412) or none (404)', async () => {
    const mrn = uniqueId('mrn');
    const target = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)))).body;
    const observation = (reference: string) => ({
      fullUrl: uuid(),
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference } },
      request: { method: 'POST', url: 'Observation' },
    });
    const res = await post(bundle([observation(`Patient?identifier=${MRN}|${mrn}`)]));
    expect(res.status).toBe(200);
    expect((await read(res.body.entry[0].response.location)).subject.reference).toBe(`Patient/${target.id}`);

    expect((await post(bundle([observation(`Patient?identifier=${MRN}|${uniqueId('none')}`)]))).status).toBe(404);
    await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)));
    const twice = await post(bundle([observation(`Patient?identifier=${MRN}|${mrn}`)]));
    expect(twice.status).toBe(412);
    expect(twice.body.resourceType).toBe('OperationOutcome');
  });

  it('makes one resource of two entries with the same ifNoneExist, and points references to either at it', async () => {
    const mrn = uniqueId('mrn');
    const [a, b] = [uuid(), uuid()];
    const ifNoneExist = `identifier=${MRN}|${mrn}`;
    const res = await post(
      bundle([
        { fullUrl: a, resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist } },
        { fullUrl: b, resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist } },
        { fullUrl: uuid(), resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: b }, focus: [{ reference: a }] }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(await countByMrn(mrn)).toBe(1);
    const [first, second] = res.body.entry;
    expect(first.response.status).toBe('201 Created');
    expect(second.response.status).toBe('200 OK');
    expect(second.response.location).toBe(first.response.location);
    const observation = await read(res.body.entry[2].response.location);
    const id = first.response.location.split('/')[1];
    expect(observation.subject.reference).toBe(`Patient/${id}`);
    expect(observation.focus[0].reference).toBe(`Patient/${id}`);

    // A later transaction finds the existing one.
    const again = await post(bundle([{ fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient', ifNoneExist } }]));
    expect(again.body.entry[0].response.status).toBe('200 OK');
    expect(again.body.entry[0].response.location).toBe(first.response.location);
  });

  it('creates through a conditional PUT and refers to it by its fullUrl', async () => {
    const mrn = uniqueId('mrn');
    const p = uuid();
    const res = await post(
      bundle([
        { fullUrl: p, resource: patient(mrn), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } },
        { fullUrl: uuid(), resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: p } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toBe('201 Created');
    const id = res.body.entry[0].response.location.split('/')[1];
    expect((await read(res.body.entry[1].response.location)).subject.reference).toBe(`Patient/${id}`);
    const update = await post(bundle([{ fullUrl: uuid(), resource: patient(mrn, { active: true }), request: { method: 'PUT', url: `Patient?identifier=${MRN}|${mrn}` } }]));
    expect(update.body.entry[0].response.location).toBe(`Patient/${id}/_history/2`);
  });

  it('honours ifMatch (412 and nothing written on a stale version) and ifNoneMatch (304)', async () => {
    const mrn = uniqueId('mrn');
    const created = (await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json(patient(mrn)))).body;
    const stale = await post(
      bundle([
        { fullUrl: uuid(), resource: patient(`${mrn}-new`), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...created, active: true }, request: { method: 'PUT', url: `Patient/${created.id}`, ifMatch: 'W/"7"' } },
      ]),
    );
    expect(stale.status).toBe(412);
    expect(await countByMrn(`${mrn}-new`)).toBe(0);
    const fresh = await post(bundle([{ resource: { ...created, active: true }, request: { method: 'PUT', url: `Patient/${created.id}`, ifMatch: 'W/"1"' } }]));
    expect(fresh.body.entry[0].response.etag).toBe('W/"2"');
    const cached = await post(bundle([{ request: { method: 'GET', url: `Patient/${created.id}`, ifNoneMatch: 'W/"2"' } }]));
    expect(cached.body.entry[0].response.status).toBe('304 Not Modified');
    expect(cached.body.entry[0].resource).toBeUndefined();
  });

  it('answers as Prefer asks: no resources for return=minimal', async () => {
    const res = await post(bundle([{ fullUrl: uuid(), resource: patient(uniqueId('mrn')), request: { method: 'POST', url: 'Patient' } }]), 'return=minimal');
    expect(res.status).toBe(200);
    expect(res.body.entry[0].resource).toBeUndefined();
    expect(res.body.entry[0].response.location).toMatch(/^Patient\//);
  });
});

describe('a transaction that cannot run', () => {
  const cases: [string, unknown, number, string][] = [
    ['a reference to a urn:uuid no entry defines', bundle([{ fullUrl: uuid(), resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:9d3f0e57-0000-4000-8000-000000000000' } }, request: { method: 'POST', url: 'Observation' } }]), 400, 'names no entry'],
    ['an entry without request', bundle([{ fullUrl: uuid(), resource: { resourceType: 'Patient' } }]), 400, 'has no request'],
    ['a method the url does not fit', bundle([{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient/123' } }]), 400, 'a create names only the type'],
    ['a resource of another type than the url', bundle([{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Observation' } }]), 400, 'carries a Patient'],
    ['an unknown method', bundle([{ resource: { resourceType: 'Patient' }, request: { method: 'FETCH', url: 'Patient' } }]), 400, 'is not one of'],
    ['a Bundle of another type', { resourceType: 'Bundle', type: 'collection', entry: [] }, 400, 'batch or transaction'],
    ['not a Bundle', { resourceType: 'Patient' }, 400, 'takes a Bundle'],
    ['two entries with the same fullUrl', bundle([{ fullUrl: 'urn:uuid:0b7e6a50-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }, { fullUrl: 'urn:uuid:0b7e6a50-0000-4000-8000-000000000001', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }]), 400, 'also the fullUrl'],
  ];
  it.each(cases)('%s answers %d with an OperationOutcome', async (_name, body, status, text) => {
    const res = await post(body);
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body.issue)).toContain(text);
  });

  it('refuses a Bundle with more entries than configured with 413', async () => {
    const small = await startTestServer({ KILN_MAX_BUNDLE_ENTRIES: '2' });
    try {
      const entries = Array.from({ length: 3 }, () => ({ fullUrl: uuid(), resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }));
      const res = await request(small.server).post('/fhir').set('Content-Type', FHIR_JSON).send(json(bundle(entries)));
      expect(res.status).toBe(413);
      expect(res.body.resourceType).toBe('OperationOutcome');
    } finally {
      await small.stop();
    }
  });

  it('refuses a reference to a resource that does not exist, naming the entry, and writes nothing', async () => {
    const mrn = uniqueId('mrn');
    const res = await post(
      bundle([
        { fullUrl: uuid(), resource: patient(mrn), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: uuid(), resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${uniqueId('missing')}` } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('Bundle.entry[1]');
    expect(await countByMrn(mrn)).toBe(0);
  });
});
