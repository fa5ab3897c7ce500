// A third-party client over a real socket: what an EHR integration using fhir-kit-client sees.
import { Client } from 'fhir-kit-client';
import { startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
let client: Client;
beforeAll(async () => {
  kiln = await startTestServer();
  client = new Client({ baseUrl: kiln.fhirUrl });
});
afterAll(() => kiln.stop());

interface Resource {
  resourceType: string;
  id: string;
  meta: { versionId: string };
  [key: string]: unknown;
}

describe('fhir-kit-client against Kiln', () => {
  it('reads the CapabilityStatement', async () => {
    const cs = (await client.capabilityStatement()) as Resource;
    expect(cs.resourceType).toBe('CapabilityStatement');
  });

  it('creates, reads, updates, patches, walks history and deletes', async () => {
    const created = (await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', name: [{ family: 'Kit', given: ['Client'] }], gender: 'other' },
    })) as Resource;
    expect(created.id).toBeDefined();
    expect(created.meta.versionId).toBe('1');

    const read = (await client.read({ resourceType: 'Patient', id: created.id })) as Resource;
    expect(read).toEqual(created);

    const updated = (await client.update({ resourceType: 'Patient', id: created.id, body: { ...read, active: true } })) as Resource;
    expect(updated.meta.versionId).toBe('2');
    expect(updated.active).toBe(true);

    const patched = (await client.patch({ resourceType: 'Patient', id: created.id, jsonPatch: [{ op: 'replace', path: '/active', value: false }] })) as Resource;
    expect(patched.meta.versionId).toBe('3');
    expect(patched.active).toBe(false);

    const first = (await client.vread({ resourceType: 'Patient', id: created.id, version: '1' })) as Resource;
    expect(first.active).toBeUndefined();

    const history = (await client.history({ resourceType: "Patient", id: created.id })) as unknown as { type: string; entry: { resource: Resource }[] };
    expect(history.type).toBe('history');
    expect(history.entry.map((e) => e.resource.meta.versionId)).toEqual(['3', '2', '1']);

    await client.delete({ resourceType: 'Patient', id: created.id });
    await expect(client.read({ resourceType: 'Patient', id: created.id })).rejects.toMatchObject({ response: { status: 410 } });
  });

  it('pages through type history with nextPage to the last page', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(((await client.create({ resourceType: 'Substance', body: { resourceType: 'Substance', code: { text: `s${i}` } } })) as Resource).id);
    }
    type Page = { entry: { resource: Resource }[]; link: { relation: string; url: string }[] };
    let page = (await client.request(`Substance/_history?_count=2&_since=${encodeURIComponent(since)}`)) as unknown as Page;
    const seen = page.entry.map((e) => e.resource.id);
    let pages = 1;
    while (page.link.some((l) => l.relation === 'next')) {
      page = (await client.nextPage({ bundle: page as never })) as unknown as Page;
      seen.push(...page.entry.map((e) => e.resource.id));
      pages++;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(expect.arrayContaining(ids));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('searches and follows next links to the end', async () => {
    const family = `Kit${Date.now().toString(36)}`;
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push(((await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family, given: [`G${i}`] }] } })) as Resource).id);
    }
    type Page = { type: string; entry?: { resource: Resource }[]; link: { relation: string; url: string }[] };
    let page = (await client.search({ resourceType: 'Patient', searchParams: { family, _count: '2', _sort: 'given' } })) as unknown as Page;
    expect(page.type).toBe('searchset');
    const seen = (page.entry ?? []).map((e) => e.resource.id);
    while (page.link.some((l) => l.relation === 'next')) {
      page = (await client.nextPage({ bundle: page as never })) as unknown as Page;
      seen.push(...(page.entry ?? []).map((e) => e.resource.id));
    }
    expect(seen).toEqual(created);
  });

  it('surfaces an OperationOutcome for invalid data', async () => {
    await expect(client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', gender: 'xyz' } })).rejects.toMatchObject({
      response: { status: 400, data: { resourceType: 'OperationOutcome' } },
    });
  });
});
