// The searchset Bundle: links, paging, sorting, totals, _summary, _elements, POST _search, and
// lenient handling. hl7.org/fhir/R4/search.html, http.html#search
import request from 'supertest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { scope, type Scope } from './support.js';

let kiln: TestServer;
let s: Scope;
const families = ['Adams', 'Brown', 'Clark', 'Davis', 'Evans', 'Frank', 'Green'];

beforeAll(async () => {
  kiln = await startTestServer();
  s = scope(kiln);
  for (const [i, family] of families.entries()) {
    await s.create({ resourceType: 'Patient', name: [{ family }], birthDate: `19${50 + (i % 3)}-01-01`, gender: i % 2 ? 'male' : 'female' });
  }
});
afterAll(() => kiln.stop());

interface Bundle {
  resourceType: string;
  type: string;
  total?: number;
  link: { relation: string; url: string }[];
  entry?: { fullUrl: string; resource: Record<string, unknown> & { id: string; name?: { family: string }[] }; search: { mode: string } }[];
}
const get = async (url: string): Promise<Bundle> => {
  const res = await request(kiln.server).get(url.replace(kiln.fhirUrl, '/fhir'));
  expect(res.status).toBe(200);
  return res.body;
};
const link = (b: Bundle, relation: string) => b.link.find((l) => l.relation === relation)?.url;
const familiesOf = (b: Bundle) => (b.entry ?? []).map((e) => e.resource.name?.[0].family);

describe('searchset bundle', () => {
  it('is a searchset with a self link, fullUrls and search.mode match', async () => {
    const bundle = await get(`/fhir/Patient?family=adams&${s.query}`);
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('searchset');
    expect(link(bundle, 'self')).toContain(`${kiln.fhirUrl}/Patient?family=adams`);
    expect(bundle.entry?.[0].fullUrl).toBe(`${kiln.fhirUrl}/Patient/${bundle.entry?.[0].resource.id}`);
    expect(bundle.entry?.[0].search.mode).toBe('match');
  });
});

describe('_sort and paging', () => {
  it('sorts ascending and descending, on several keys', async () => {
    expect(familiesOf(await get(`/fhir/Patient?_sort=family&${s.query}`))).toEqual(families);
    expect(familiesOf(await get(`/fhir/Patient?_sort=-family&${s.query}`))).toEqual([...families].reverse());
    const byBirthThenName = familiesOf(await get(`/fhir/Patient?_sort=-birthdate,family&${s.query}`));
    expect(byBirthThenName).toEqual(['Clark', 'Frank', 'Brown', 'Evans', 'Adams', 'Davis', 'Green']);
  });

  it('follows next links to the last page and previous links back, without gaps or repeats, while others write', async () => {
    let page = await get(`/fhir/Patient?_sort=family&_count=2&${s.query}`);
    const seen = familiesOf(page);
    const pages = [page];
    let extra = 0;
    while (link(page, 'next')) {
      // A new patient that sorts first arrives between pages; it must not shift the pages.
      await s.create({ resourceType: 'Patient', name: [{ family: `Aaron${extra++}` }] });
      page = await get(link(page, 'next') as string);
      pages.push(page);
      seen.push(...familiesOf(page));
    }
    expect(seen).toEqual(families);
    expect(pages).toHaveLength(4);
    const back = await get(link(pages[3], 'previous') as string);
    expect(familiesOf(back)).toEqual(familiesOf(pages[2]));
    expect(link(pages[0], 'previous')).toBeUndefined();
  });

  it('caps _count at the configured maximum and refuses a malformed one', async () => {
    const bundle = await get(`/fhir/Patient?_count=100000&${s.query}`);
    expect(link(bundle, 'self')).toContain('_count=1000');
    expect((await s.search('Patient', '_count=many')).status).toBe(400);
    expect((await s.search('Patient', '_sort=shoe-size')).status).toBe(400);
    expect((await s.search('Patient', '_page=not-a-page')).status).toBe(400);
  });
});

describe('_total and _summary', () => {
  it('counts when asked, accurately or as an estimate', async () => {
    const none = await get(`/fhir/Patient?family=adams,brown&${s.query}`);
    expect(none.total).toBeUndefined();
    const accurate = await get(`/fhir/Patient?family=adams,brown&_total=accurate&${s.query}`);
    expect(accurate.total).toBe(2);
    const estimate = await get(`/fhir/Patient?family=adams,brown&_total=estimate&${s.query}`);
    expect(typeof estimate.total).toBe('number');
    expect((await s.search('Patient', '_total=some')).status).toBe(400);
  });

  it('_summary=count returns the total and no entries', async () => {
    const bundle = await get(`/fhir/Patient?gender=female&_summary=count&${s.query}`);
    expect(bundle.total).toBe(4);
    expect(bundle.entry).toBeUndefined();
  });

  it('_summary=true and _elements subset each entry', async () => {
    const summary = await get(`/fhir/Patient?family=adams&_summary=true&${s.query}`);
    expect(summary.entry?.[0].resource.meta).toMatchObject({ tag: expect.arrayContaining([expect.objectContaining({ code: 'SUBSETTED' })]) });
    const elements = await get(`/fhir/Patient?family=adams&_elements=gender&${s.query}`);
    expect(Object.keys(elements.entry?.[0].resource ?? {}).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
  });
});

describe('POST _search', () => {
  it('takes the parameters form-encoded and answers like GET', async () => {
    const res = await request(kiln.server)
      .post('/fhir/Patient/_search')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(`family=clark&${s.query}`);
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: { resource: { name: { family: string }[] } }) => e.resource.name[0].family)).toEqual(['Clark']);
    const json = await request(kiln.server).post('/fhir/Patient/_search').set('Content-Type', 'application/json').send('{}');
    expect(json.status).toBe(415);
  });
});

describe('unknown parameters', () => {
  it('are refused, or ignored and reported under Prefer: handling=lenient', async () => {
    const strict = await s.search('Patient', 'shoe-size=44&family=adams');
    expect(strict.status).toBe(400);
    expect(strict.body.issue[0].details.text).toContain('shoe-size');
    const lenient = await request(kiln.server).get(`/fhir/Patient?shoe-size=44&family=adams&${s.query}`).set('Prefer', 'handling=lenient');
    expect(lenient.status).toBe(200);
    const modes = lenient.body.entry.map((e: { search: { mode: string } }) => e.search.mode);
    expect(modes).toEqual(['match', 'outcome']);
    expect(lenient.body.entry[1].resource.issue[0].details.text).toContain('shoe-size');
  });
});

describe('system search', () => {
  it('applies the criteria to each type in _type and pages across them to the end', async () => {
    const org = await s.create({ resourceType: 'Organization', name: 'Adams Clinic' });
    const first = await get(`/fhir?_type=Patient,Organization&_count=3&${s.query}`);
    expect(first.type).toBe('searchset');
    const seen = (first.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
    let page = first;
    while (link(page, 'next')) {
      page = await get(link(page, 'next') as string);
      seen.push(...(page.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`));
    }
    expect(seen).toContain(`Organization/${org.id}`);
    expect(seen.filter((r) => r.startsWith('Patient/')).length).toBeGreaterThanOrEqual(families.length);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('refuses parameters a named type lacks, unknown types and per-type options', async () => {
    expect((await request(kiln.server).get('/fhir?_type=Patient,Organization&birthdate=1950')).status).toBe(400);
    expect((await request(kiln.server).get('/fhir?_type=Patients')).status).toBe(400);
    expect((await request(kiln.server).get('/fhir?_type=Patient&_sort=_id')).status).toBe(400);
  });
});
