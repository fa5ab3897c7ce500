// Small requests that ask for unbounded work: a JSON Patch whose copies double the document, searches
// whose includes fan out, Bundles of thousands of such searches. Each is capped by a setting and
// answers within its bounds: a 413 OperationOutcome naming the limit and the setting, or a page cut
// short with an OperationOutcome entry saying so (hl7.org/fhir/R4/search.html#include).
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer({ KILN_MAX_BODY: '256kb', KILN_MAX_PATCH_OPERATIONS: '50', KILN_MAX_INCLUDES: '5', KILN_MAX_BATCH_RESULTS: '30' });
});
afterAll(() => kiln.stop());

const post = (type: string, body: unknown) => request(kiln.server).post(`/fhir/${type}`).set('Content-Type', FHIR_JSON).send(json(body));
const patch = (location: string, ops: unknown) => request(kiln.server).patch(`/fhir/${location}`).set('Content-Type', 'application/json-patch+json').send(json(ops));
const texts = (res: request.Response) => (res.body.issue ?? []).map((i: { details?: { text?: string } }) => i.details?.text).join('\n');

function expectTooLarge(res: request.Response, text: RegExp): void {
  expect(res.status).toBe(413);
  expect(res.body.resourceType).toBe('OperationOutcome');
  expect(texts(res)).toMatch(text);
}

describe('JSON Patch', () => {
  const extension = [{ url: 'http://example.org/x', valueString: 'a'.repeat(50) }];

  it('whose copies double the document answers 413 naming KILN_MAX_BODY, and writes nothing', async () => {
    const created = (await post('Patient', { resourceType: 'Patient', extension })).body;
    const doubling = Array.from({ length: 25 }, () => ({ op: 'copy', from: '/extension', path: '/extension/-' }));
    // Each copy of the whole array nests it one level deeper, so 25 of them double the document 25 times.
    expectTooLarge(await patch(`Patient/${created.id}`, doubling), /copies more than 262144 bytes.*KILN_MAX_BODY/);
    const flat = Array.from({ length: 25 }, (_, i) => ({ op: 'copy', from: `/extension/${i}`, path: '/extension/-' }));
    const ok = await patch(`Patient/${created.id}`, flat);
    expect(ok.status).toBe(200);
    expect(ok.body.extension).toHaveLength(26);
  });

  it('with more operations than KILN_MAX_PATCH_OPERATIONS answers 413 naming it', async () => {
    const created = (await post('Patient', { resourceType: 'Patient' })).body;
    const ops = Array.from({ length: 51 }, () => ({ op: 'test', path: '/resourceType', value: 'Patient' }));
    expectTooLarge(await patch(`Patient/${created.id}`, ops), /51 operations.*at most 50 \(KILN_MAX_PATCH_OPERATIONS\)/);
    expect((await patch(`Patient/${created.id}`, ops.slice(1))).status).toBe(200);
  });

  it('whose result is larger than KILN_MAX_BODY answers 413 naming it', async () => {
    const created = (await post('Patient', { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueString: 'b'.repeat(150_000) }] })).body;
    const res = await patch(`Patient/${created.id}`, [{ op: 'add', path: '/extension/-', value: { url: 'http://example.org/y', valueString: 'c'.repeat(150_000) } }]);
    expectTooLarge(res, /patched resource would be \d+ bytes.*at most 262144 \(KILN_MAX_BODY\)/);
    expect((await request(kiln.server).get(`/fhir/Patient/${created.id}`)).body.meta.versionId).toBe('1');
  });
});

describe('_include and _revinclude', () => {
  const tag = uniqueId('includes');
  const meta = { tag: [{ system: 'urn:kiln:test', code: tag }] };
  let patientId: string;
  let chain: string[];

  beforeAll(async () => {
    patientId = (await post('Patient', { resourceType: 'Patient', meta })).body.id;
    for (let i = 0; i < 8; i++) await post('Observation', { resourceType: 'Observation', meta, status: 'final', code: { text: `o${i}` }, subject: { reference: `Patient/${patientId}` } });
    // o5 → o4 → … → o0 by hasMember: a chain longer than :iterate follows.
    chain = [];
    for (let i = 0; i < 6; i++) {
      const hasMember = chain.length ? [{ reference: `Observation/${chain[chain.length - 1]}` }] : undefined;
      chain.push((await post('Observation', { resourceType: 'Observation', meta, status: 'final', code: { text: `chain${i}` }, hasMember })).body.id);
    }
  });

  const entriesOf = (res: request.Response) => {
    expect(res.status).toBe(200);
    const entries = (res.body.entry ?? []) as { search: { mode: string }; resource: { resourceType: string; issue?: { details: { text: string } }[] } }[];
    return {
      included: entries.filter((e) => e.search.mode === 'include'),
      outcome: entries.find((e) => e.search.mode === 'outcome')?.resource.issue?.map((i) => i.details.text).join('\n') ?? '',
    };
  };

  it('add at most KILN_MAX_INCLUDES resources to a page, and an OperationOutcome entry says so', async () => {
    const { included, outcome } = entriesOf(await request(kiln.server).get(`/fhir/Patient?_id=${patientId}&_revinclude=Observation:subject`));
    expect(included).toHaveLength(5);
    expect(outcome).toMatch(/stopped at 5 included resources.*KILN_MAX_INCLUDES/);
  });

  it('with :iterate and * on both stay within the limit', async () => {
    const { included, outcome } = entriesOf(await request(kiln.server).get(`/fhir/Patient?_id=${patientId}&_include:iterate=*&_revinclude:iterate=*&_revinclude:iterate=Observation:subject`));
    expect(included.length).toBeLessThanOrEqual(5);
    expect(outcome).toMatch(/KILN_MAX_INCLUDES/);
  });

  it('follow :iterate a few rounds, and say where they stopped', async () => {
    const { included, outcome } = entriesOf(await request(kiln.server).get(`/fhir/Observation?_id=${chain[5]}&_include:iterate=Observation:has-member`));
    expect(included.map((e) => (e.resource as unknown as { id: string }).id)).toEqual([chain[4], chain[3], chain[2], chain[1]]);
    expect(outcome).toMatch(/:iterate stopped after 3 rounds/);
  });

  it('below the limits carry no warning', async () => {
    const { included, outcome } = entriesOf(await request(kiln.server).get(`/fhir/Observation?_id=${chain[1]}&_include:iterate=Observation:has-member`));
    expect(included).toHaveLength(1);
    expect(outcome).toBe('');
  });
});

describe('the reads of one Bundle', () => {
  const tag = uniqueId('budget');
  const meta = { tag: [{ system: 'urn:kiln:test', code: tag }] };

  beforeAll(async () => {
    for (let i = 0; i < 8; i++) await post('Patient', { resourceType: 'Patient', meta });
  });

  const search = { request: { method: 'GET', url: `Patient?_tag=urn:kiln:test|${tag}` } };

  it('answer with at most KILN_MAX_BATCH_RESULTS resources in all; the entries past it answer 413', async () => {
    const res = await post('', { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 20 }, () => search) });
    expect(res.status).toBe(200);
    const entries = res.body.entry as { response: { status: string; outcome?: { issue: { details: { text: string } }[] } }; resource?: { entry?: unknown[] } }[];
    const answered = entries.filter((e) => e.response.status.startsWith('200'));
    const refused = entries.filter((e) => e.response.status.startsWith('413'));
    expect(answered.reduce((sum, e) => sum + (e.resource?.entry?.length ?? 0), 0)).toBeLessThanOrEqual(30);
    expect(answered.length + refused.length).toBe(20);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].response.outcome?.issue[0].details.text).toMatch(/more than 30 resources.*KILN_MAX_BATCH_RESULTS/);
  });

  it('of a transaction past the limit fail the transaction with 413', async () => {
    const res = await post('', { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 5 }, () => search) });
    expectTooLarge(res, /KILN_MAX_BATCH_RESULTS/);
  });

  it('2,000 searches with :iterate includes on every side answer within their bounds', async () => {
    const entry = { request: { method: 'GET', url: `Patient?_tag=urn:kiln:test|${tag}&_include:iterate=*&_revinclude:iterate=*` } };
    const res = await post('', { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 2000 }, () => entry) });
    expect(res.status).toBe(200);
    expect(res.body.entry).toHaveLength(2000);
    const statuses = new Set(res.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3)));
    expect([...statuses].every((s) => s === '200' || s === '413')).toBe(true);
  });
});
