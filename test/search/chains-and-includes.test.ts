// Chained and reverse-chained parameters, _include and _revinclude (with :iterate).
// hl7.org/fhir/R4/search.html#chaining, #has, #include
import { startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const ids: Record<string, string> = {};

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  ids.org = (await s.create({ resourceType: 'Organization', name: 'Lakeside Clinic' })).id;
  ids.gp = (await s.create({ resourceType: 'Practitioner', name: [{ family: 'Careful' }] })).id;
  ids.ann = (await s.create({ resourceType: 'Patient', name: [{ family: 'Ashford' }], managingOrganization: { reference: `Organization/${ids.org}` }, generalPractitioner: [{ reference: `Practitioner/${ids.gp}` }] })).id;
  ids.bob = (await s.create({ resourceType: 'Patient', name: [{ family: 'Barlow' }] })).id;
  const obs = (patient: string, code: string) =>
    s.create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${patient}` } });
  ids.annHr = (await obs(ids.ann, '8867-4')).id;
  ids.annBp = (await obs(ids.ann, '85354-9')).id;
  ids.bobHr = (await obs(ids.bob, '8867-4')).id;
  ids.prov = (await s.create({ resourceType: 'Provenance', target: [{ reference: `Observation/${ids.annHr}` }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { reference: `Practitioner/${ids.gp}` } }] })).id;
});
afterAll(() => kiln.stop());

const sorted = (list: string[]) => [...list].sort();

interface Entry {
  resource: { resourceType: string; id: string };
  search: { mode: string };
}
async function entries(type: string, query: string): Promise<{ match: string[]; include: string[] }> {
  const res = await s.search(type, query);
  expect(res.status).toBe(200);
  const list: Entry[] = res.body.entry ?? [];
  const pick = (mode: string) => sorted(list.filter((e) => e.search.mode === mode).map((e) => `${e.resource.resourceType}/${e.resource.id}`));
  return { match: pick('match'), include: pick('include') };
}

describe('chains', () => {
  it('follows a reference to a parameter of the target', async () => {
    expect(sorted(await s.ids('Observation', 'subject:Patient.name=ashford'))).toEqual(sorted([ids.annHr, ids.annBp]));
    expect(await s.ids('Observation', 'subject:Patient.name=nobody')).toEqual([]);
  });

  it('follows several levels', async () => {
    expect(sorted(await s.ids('Observation', 'subject:Patient.organization.name=lakeside'))).toEqual(sorted([ids.annHr, ids.annBp]));
  });

  it('needs a type when the reference can point to several', async () => {
    const res = await s.search('Observation', 'subject.name=ashford');
    expect(res.status).toBe(400);
    expect(res.body.issue[0].details.text).toContain('name one');
  });
});

describe('_has', () => {
  it('finds resources referred to by resources that match', async () => {
    expect(await s.ids('Patient', '_has:Observation:subject:code=85354-9')).toEqual([ids.ann]);
    expect(sorted(await s.ids('Patient', '_has:Observation:subject:code=8867-4'))).toEqual(sorted([ids.ann, ids.bob]));
    expect(await s.ids('Patient', '_has:Observation:subject:code=0000-0')).toEqual([]);
  });

  it('nests', async () => {
    expect(await s.ids('Patient', `_has:Observation:subject:_has:Provenance:target:agent=Practitioner/${ids.gp}`)).toEqual([ids.ann]);
  });

  it('refuses a reference parameter that cannot point at the type', async () => {
    const res = await s.search('Patient', '_has:Observation:performer-nothing:code=1');
    expect(res.status).toBe(400);
  });
});

describe('_list', () => {
  it('finds the resources a List holds', async () => {
    const list = await s.create({
      resourceType: 'List',
      status: 'current',
      mode: 'working',
      entry: [{ item: { reference: `Patient/${ids.bob}` } }, { item: { reference: `Observation/${ids.annHr}` } }, { item: { reference: `${kiln.fhirUrl}/Patient/${ids.ann}` } }],
    });
    expect((await s.ids('Patient', `_list=${list.id}`)).sort()).toEqual([ids.bob, ids.ann].sort());
    expect(await s.ids('Observation', `_list=${list.id}`)).toEqual([ids.annHr]);
    expect(await s.ids('Patient', '_list=no-such-list')).toEqual([]);
    expect((await s.search('Patient', '_list=$current-problems')).status).toBe(400);
  });
});

describe('_contained', () => {
  // Searches here are scoped by the run's tag, so the contained resource carries it too.
  const medication = (code: string) => ({
    resourceType: 'Medication',
    id: 'med1',
    meta: { tag: [{ system: 'urn:kiln:test', code: s.tag }] },
    code: { coding: [{ system: 'urn:kiln:test:drug', code }] },
  });
  const request = (code: string) => ({
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    subject: { reference: `Patient/${ids.ann}` },
    contained: [medication(code)],
    medicationReference: { reference: '#med1' },
  });

  it('searches contained resources only when asked, answering with the container or the contained one', async () => {
    const code = `drug-${Date.now().toString(36)}`;
    const order = await s.create(request(code));
    const standalone = await s.create({ ...medication(code), id: undefined, meta: undefined });
    expect(await s.ids('Medication', `code=${code}`)).toEqual([standalone.id]);

    const containers = await s.search('Medication', `code=${code}&_contained=true`);
    expect(containers.status).toBe(200);
    expect(containers.body.entry.map((e: Entry) => `${e.resource.resourceType}/${e.resource.id}`)).toEqual([`MedicationRequest/${order.id}`]);

    const contained = await s.search('Medication', `code=${code}&_contained=true&_containedType=contained`);
    expect(contained.body.entry).toHaveLength(1);
    expect(contained.body.entry[0].resource).toMatchObject({ resourceType: 'Medication', id: 'med1' });
    expect(contained.body.entry[0].fullUrl).toBe(`${kiln.fhirUrl}/MedicationRequest/${order.id}#med1`);

    const both = await s.search('Medication', `code=${code}&_contained=both`);
    expect(both.body.entry.map((e: Entry) => e.resource.id).sort()).toEqual([order.id, standalone.id].sort());
  });

  it('follows the container: a changed or deleted container changes what is found', async () => {
    const before = `drug-a-${Date.now().toString(36)}`;
    const after = `drug-b-${Date.now().toString(36)}`;
    const order = await s.create(request(before));
    const { meta: _meta, ...rest } = order as Record<string, unknown>;
    const updated = await import('supertest').then(({ default: st }) =>
      st(kiln.server).put(`/fhir/MedicationRequest/${order.id}`).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...rest, contained: [medication(after)] })),
    );
    expect(updated.status).toBe(200);
    expect(await s.ids('Medication', `code=${before}&_contained=true`)).toEqual([]);
    expect(await s.ids('Medication', `code=${after}&_contained=true`)).toEqual([order.id]);
    await import('supertest').then(({ default: st }) => st(kiln.server).delete(`/fhir/MedicationRequest/${order.id}`).expect(204));
    expect(await s.ids('Medication', `code=${after}&_contained=true`)).toEqual([]);
  });

  it('leaves the search parameter named container alone (Specimen.container)', async () => {
    const specimen = await s.create({ resourceType: 'Specimen', container: [{ type: { coding: [{ system: 'urn:kiln:test:tube', code: 'red-top' }] } }] });
    expect(await s.ids('Specimen', 'container=red-top')).toEqual([specimen.id]);
  });

  it('refuses values it does not know', async () => {
    expect((await s.search('Medication', '_contained=sometimes')).status).toBe(400);
    expect((await s.search('Medication', '_contained=true&_containedType=inner')).status).toBe(400);
  });
});

describe('_content and _text', () => {
  it('find words anywhere in the resource, or in its narrative only', async () => {
    const noted = await s.create({
      resourceType: 'Patient',
      name: [{ family: 'Quillfeather' }],
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Allergic to <b>penicillin</b></div>' },
    });
    expect(await s.ids('Patient', '_content=quillfeather')).toEqual([noted.id]);
    expect(await s.ids('Patient', '_text=penicillin')).toEqual([noted.id]);
    expect(await s.ids('Patient', '_text=quillfeather')).toEqual([]);
    expect(await s.ids('Patient', '_content=penicillin -quillfeather')).toEqual([]);
  });
});

describe('_include and _revinclude', () => {
  it('adds the resources the matches refer to, marked include', async () => {
    const found = await entries('Observation', `code=85354-9&_include=Observation:subject`);
    expect(found.match).toEqual([`Observation/${ids.annBp}`]);
    expect(found.include).toEqual([`Patient/${ids.ann}`]);
  });

  it('follows every reference with *, and a target type when given', async () => {
    const all = await entries('Patient', `_id=${ids.ann}&_include=*`);
    expect(all.include).toEqual(sorted([`Organization/${ids.org}`, `Practitioner/${ids.gp}`]));
    const typed = await entries('Patient', `_id=${ids.ann}&_include=Patient:general-practitioner:Practitioner`);
    expect(typed.include).toEqual([`Practitioner/${ids.gp}`]);
  });

  it('adds resources that refer to the matches, and iterates', async () => {
    const rev = await entries('Patient', `_id=${ids.ann}&_revinclude=Observation:subject`);
    expect(rev.include).toEqual(sorted([`Observation/${ids.annHr}`, `Observation/${ids.annBp}`]));
    const iterated = await entries('Patient', `_id=${ids.ann}&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target`);
    expect(iterated.include).toContain(`Provenance/${ids.prov}`);
    const notIterated = await entries('Patient', `_id=${ids.ann}&_revinclude=Observation:subject&_revinclude=Provenance:target`);
    expect(notIterated.include).not.toContain(`Provenance/${ids.prov}`);
  });

  it('refuses what is not a reference parameter', async () => {
    expect((await s.search('Observation', '_include=Observation:code')).status).toBe(400);
    expect((await s.search('Observation', '_include=Observation')).status).toBe(400);
  });
});
