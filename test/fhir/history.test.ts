// History for an instance, a type and the system: hl7.org/fhir/R4/http.html#history
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

interface Entry {
  fullUrl: string;
  resource?: { id: string; meta: { versionId: string } };
  request: { method: string; url: string };
  response: { status: string; etag: string; lastModified: string };
}
interface HistoryBundle {
  resourceType: string;
  type: string;
  link: { relation: string; url: string }[];
  entry: Entry[];
}

const get = async (url: string): Promise<HistoryBundle> => {
  const res = await request(kiln.server).get(url.replace(kiln.fhirUrl, '/fhir'));
  expect(res.status).toBe(200);
  return res.body;
};
const link = (bundle: HistoryBundle, relation: string) => bundle.link.find((l) => l.relation === relation)?.url;

async function makeVersions(): Promise<string> {
  const created = await request(kiln.server).post('/fhir/Device').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Device', status: 'active' }));
  const id = created.body.id;
  await request(kiln.server).put(`/fhir/Device/${id}`).set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Device', id, status: 'inactive' }));
  await request(kiln.server)
    .patch(`/fhir/Device/${id}`)
    .set('Content-Type', 'application/json-patch+json')
    .send(json([{ op: 'replace', path: '/status', value: 'active' }]));
  await request(kiln.server).delete(`/fhir/Device/${id}`);
  return id;
}

describe('instance history', () => {
  it('lists versions newest first with the request as it was made and the response', async () => {
    const id = await makeVersions();
    const bundle = await get(`/fhir/Device/${id}/_history`);
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('history');
    expect(bundle.entry.map((e) => [e.request.method, e.request.url, e.response.status, e.response.etag])).toEqual([
      ['DELETE', `Device/${id}`, '204 No Content', 'W/"4"'],
      ['PATCH', `Device/${id}`, '200 OK', 'W/"3"'],
      ['PUT', `Device/${id}`, '200 OK', 'W/"2"'],
      ['POST', 'Device', '201 Created', 'W/"1"'],
    ]);
    expect(bundle.entry[0].resource).toBeUndefined();
    expect(bundle.entry[3].resource?.meta.versionId).toBe('1');
    expect(bundle.entry[3].fullUrl).toBe(`${kiln.fhirUrl}/Device/${id}`);
  });

  it('answers 404 for a resource that never existed', async () => {
    await request(kiln.server).get('/fhir/Device/never-was/_history').expect(404);
  });
});

describe('paging', () => {
  it('follows next links to the end and previous links back, with no gaps or repeats', async () => {
    const since = encodeURIComponent(new Date(Date.now() - 1000).toISOString());
    const id = await makeVersions();
    await makeVersions();
    const key = (e: Entry) => `${e.fullUrl}@${e.response.etag}`;
    const seen: string[] = [];
    let page = await get(`/fhir/Device/_history?_count=3&_since=${since}`);
    const pages = [page];
    for (;;) {
      seen.push(...page.entry.map(key));
      const next = link(page, 'next');
      if (!next) break;
      expect(next).toContain('_since=');
      page = await get(next);
      pages.push(page);
    }
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((s) => s.includes(id))).toHaveLength(4);
    // Other writers may add newer versions meanwhile; all older ones must be exactly what the pages held.
    const newest = Date.parse(pages[0].entry[0].response.lastModified);
    const all = await get(`/fhir/Device/_history?_count=1000&_since=${since}`);
    expect(seen).toEqual(all.entry.filter((e) => Date.parse(e.response.lastModified) < newest || seen.includes(key(e))).map(key));

    const back = await get(link(pages[pages.length - 1], 'previous') as string);
    expect(back.entry.map(key)).toEqual(pages[pages.length - 2].entry.map(key));
    expect(link(pages[0], 'previous')).toBeUndefined();
  });

  it('does not shift pages when new versions are written between them', async () => {
    await makeVersions();
    const first = await get('/fhir/Device/_history?_count=2');
    const firstUrls = first.entry.map((e) => `${e.fullUrl}@${e.response.etag}`);
    await makeVersions();
    const second = await get(link(first, 'next') as string);
    for (const entry of second.entry) expect(firstUrls).not.toContain(`${entry.fullUrl}@${entry.response.etag}`);
    expect(Date.parse(second.entry[0].response.lastModified)).toBeLessThanOrEqual(Date.parse(first.entry[1].response.lastModified));
  });
});

describe('_since and _at', () => {
  it('_since keeps versions at or after the instant', async () => {
    const id = await makeVersions();
    const all = await get(`/fhir/Device/${id}/_history`);
    const cut = all.entry[1].response.lastModified;
    const since = await get(`/fhir/Device/${id}/_history?_since=${encodeURIComponent(cut)}`);
    expect(since.entry.every((e) => Date.parse(e.response.lastModified) >= Date.parse(cut))).toBe(true);
    expect(since.entry.length).toBeGreaterThanOrEqual(2);
    expect(since.entry.length).toBeLessThan(4);
  });

  it('_at keeps the versions that were current at that time', async () => {
    const created = await request(kiln.server).post('/fhir/Device').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Device', status: 'active' }));
    const id = created.body.id;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await request(kiln.server).put(`/fhir/Device/${id}`).set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Device', id, status: 'inactive' }));
    const at = await get(`/fhir/Device/${id}/_history?_at=${encodeURIComponent(between)}`);
    expect(at.entry.map((e) => e.response.etag)).toEqual(['W/"1"']);
  });

  it('answers 400 for a malformed _since, _count, _page or an unknown parameter', async () => {
    for (const query of ['_since=yesterday', '_count=ten', '_page=garbage', 'name=smith', '_at=2020-13']) {
      const res = await request(kiln.server).get(`/fhir/Device/_history?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('system history', () => {
  it('includes every type', async () => {
    const start = new Date(Date.now() - 1000).toISOString();
    const patient = await request(kiln.server).post('/fhir/Patient').set('Content-Type', FHIR_JSON).send(json({ resourceType: 'Patient' }));
    const device = await makeVersions();
    const bundle = await get(`/fhir/_history?_count=1000&_since=${encodeURIComponent(start)}`);
    const urls = bundle.entry.map((e) => e.fullUrl);
    expect(urls).toContain(`${kiln.fhirUrl}/Device/${device}`);
    expect(urls).toContain(`${kiln.fhirUrl}/Patient/${patient.body.id}`);
  });
});
