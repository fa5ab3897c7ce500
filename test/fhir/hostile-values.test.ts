// Values that used to reach the database or a recursive walk unchecked and answered 500: each now
// answers 4xx with an OperationOutcome that names the problem (hl7.org/fhir/R4/http.html#summary),
// and writes nothing.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, uniqueId, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

function expectOutcome(res: request.Response, status: number, text?: RegExp): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { resourceType: 'OperationOutcome' } });
  expect(res.headers['content-type']).toContain('application/fhir+json');
  expect(res.body.issue.length).toBeGreaterThan(0);
  if (text) expect(res.body.issue.map((i: { details?: { text?: string } }) => i.details?.text).join('\n')).toMatch(text);
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
}

const post = (type: string, body: unknown, headers: Record<string, string> = {}) =>
  request(kiln.server).post(`/fhir/${type}`).set('Content-Type', FHIR_JSON).set(headers).send(typeof body === 'string' ? body : json(body));
const patch = (location: string, ops: unknown) => request(kiln.server).patch(`/fhir/${location}`).set('Content-Type', 'application/json-patch+json').send(json(ops));
const count = async (type: string, query: string) => (await request(kiln.server).get(`/fhir/${type}?${query}&_summary=count`)).body.total as number;

describe('a NUL character', () => {
  it('in a search value is 400 naming the parameter', async () => {
    expectOutcome(await request(kiln.server).get('/fhir/Patient?name=%00'), 400, /name.*NUL/);
    expectOutcome(await request(kiln.server).get('/fhir/Patient?_content=a%00b'), 400, /_content.*NUL/);
    expectOutcome(await request(kiln.server).get('/fhir/Patient?identifier=a%7Cb%00'), 400, /identifier.*NUL/);
  });

  it('in an id is 400 naming the id', async () => {
    expectOutcome(await request(kiln.server).get('/fhir/Patient/%00'), 400, /not a valid id/);
    expectOutcome(await request(kiln.server).get('/fhir/Patient/a%00b/_history'), 400, /not a valid id/);
    expectOutcome(await request(kiln.server).delete('/fhir/Patient/%00'), 400, /not a valid id/);
  });

  it('in If-None-Exist of a Bundle entry is 400', async () => {
    const res = await post('', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=a\u0000' } }] });
    expectOutcome(res, 400, /NUL/);
  });
});

describe('JSON nested 10,000 deep', () => {
  const deep = (levels: number) => `{"resourceType":"Patient","extension":${'['.repeat(levels)}${']'.repeat(levels)}}`;

  it('is 400 naming the depth limit, for a create, an update, a Bundle and a patch', async () => {
    expectOutcome(await post('Patient', deep(10_000)), 400, /nested.*levels/);
    expectOutcome(await request(kiln.server).put('/fhir/Patient/deep').set('Content-Type', FHIR_JSON).send(deep(10_000)), 400, /nested.*levels/);
    expectOutcome(await post('', `{"resourceType":"Bundle","type":"batch","entry":[{"resource":${deep(10_000)},"request":{"method":"POST","url":"Patient"}}]}`), 400, /nested.*levels/);
    const created = (await post('Patient', { resourceType: 'Patient' })).body;
    const nested = `${'{"url":"http://x","extension":['.repeat(3000)}${']}'.repeat(3000)}`;
    const ops = `[{"op":"add","path":"/extension","value":[${nested}]}]`;
    const res = await request(kiln.server).patch(`/fhir/Patient/${created.id}`).set('Content-Type', 'application/json-patch+json').send(ops);
    expectOutcome(res, 400, /nested.*levels/);
  });

  it('built up by JSON Patch copies is refused before validation walks it', async () => {
    const created = (await post('Patient', { resourceType: 'Patient', extension: [{ url: 'http://x', valueString: 'a' }] })).body;
    const ops = Array.from({ length: 300 }, () => ({ op: 'copy', from: '/extension', path: '/extension/0/extension' }));
    const res = await patch(`Patient/${created.id}`, ops);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('a string longer than an index entry holds', () => {
  // Random text, which Postgres cannot compress below the size of an index entry.
  const family = `A${randomBytes(7000).toString('base64')}${uniqueId('tail')}`;

  it('is stored, and found by exact and by prefix search', async () => {
    const created = await post('Patient', { resourceType: 'Patient', name: [{ family }], identifier: [{ system: 'http://example.org/long', value: family }] });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const ids = async (query: string) => {
      const res = await request(kiln.server).get(`/fhir/Patient?${query}`);
      expect(res.status).toBe(200);
      return (res.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id);
    };
    expect(await ids(`family:exact=${encodeURIComponent(family)}`)).toEqual([id]);
    // The last character changed (uniqueId ends in a random base-36 digit, which may already be 'x').
    const lastChanged = family.slice(0, -1) + (family.endsWith('x') ? 'y' : 'x');
    expect(await ids(`family:exact=${encodeURIComponent(lastChanged)}`)).toEqual([]);
    expect(await ids(`identifier=${encodeURIComponent(`http://example.org/long|${family}`)}`)).toEqual([id]);
    expect(await ids(`identifier=${encodeURIComponent(`http://example.org/long|${family.slice(0, -1)}`)}`)).toEqual([]);
    expect(await ids(`family=${encodeURIComponent(family.slice(0, 1500))}&_id=${id}`)).toEqual([id]);
    expect(await ids(`family=${encodeURIComponent(family.slice(0, 1500) + 'zz')}&_id=${id}`)).toEqual([]);
  });

  it('as a prefix search value past the indexed prefix is 400 naming the limit', async () => {
    expectOutcome(await request(kiln.server).get(`/fhir/Patient?family=${'a'.repeat(5000)}`), 400, /at most 2000 bytes/);
  });

  it('is stored in a transaction and through contained resources too', async () => {
    const long = randomBytes(7000).toString('base64');
    const res = await post('', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: { resourceType: 'Patient', name: [{ family: long }], contained: [{ resourceType: 'Organization', id: 'o', name: long }], managingOrganization: { reference: '#o' } }, request: { method: 'POST', url: 'Patient' } }],
    });
    expect(res.status).toBe(200);
  });
});

describe('a tampered _page cursor', () => {
  const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('with values that do not fit the sort keys is 400', async () => {
    expectOutcome(await request(kiln.server).get(`/fhir/Observation?_sort=-date&_page=${cursor(['after', ['abc', 'x']])}`), 400, /_page/);
    expectOutcome(await request(kiln.server).get(`/fhir/Observation?_sort=value-quantity&_page=${cursor(['after', ['abc', 'x']])}`), 400, /_page/);
    expectOutcome(await request(kiln.server).get(`/fhir/Patient?_page=${cursor(['after', ['a\u0000']])}`), 400, /_page/);
    expectOutcome(await request(kiln.server).get(`/fhir/Observation?_sort=date&_page=${cursor(['after', ['-271821-04-20T00:00:00.000Z', 'x']])}`), 400, /_page/);
  });

  it('of history, with a version past any integer or a date out of range, is 400', async () => {
    expectOutcome(await request(kiln.server).get(`/fhir/_history?_page=${cursor(['after', new Date().toISOString(), 'Patient', 'x', 1e300])}`), 400, /_page/);
    expectOutcome(await request(kiln.server).get(`/fhir/Patient/_history?_page=${cursor(['after', '-271821-04-20T00:00:00.000Z', 'Patient', 'x', 1])}`), 400, /_page/);
    expectOutcome(await request(kiln.server).get(`/fhir/_history?_page=${cursor(['after', new Date().toISOString(), 'Patient', 'x\u0000', 1])}`), 400, /_page/);
  });

  it('of a search across types, with an id no resource can have, is 400', async () => {
    expectOutcome(await request(kiln.server).get(`/fhir?_type=Patient&_page=${cursor([0, 'a\u0000'])}`), 400, /_page/);
  });
});

describe('a value of the wrong JSON type', () => {
  const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' } };

  it.each([
    ['an object for a reference string', { ...observation, subject: { reference: {} } }, 'Observation.subject.reference'],
    ['an object for an array of Codings', { ...observation, code: { coding: {} } }, 'Observation.code.coding'],
    ['an object for a code', { resourceType: 'Patient', gender: {} }, 'Patient.gender'],
    ['an object for meta tags', { resourceType: 'Patient', meta: { tag: {} } }, 'Patient.meta.tag'],
    ['a string for a primitive extension', { resourceType: 'Patient', birthDate: '2000-01-01', _birthDate: 'x' }, 'Patient._birthDate'],
    ['an object for a display string', { ...observation, subject: { display: { text: 'x' } } }, 'Observation.subject.display'],
  ])('is 400: %s', async (_what, body, location) => {
    const res = await post(body.resourceType, body);
    expectOutcome(res, 400);
    expect(res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(location);
  });
});

describe('properties named like members of every JavaScript object', () => {
  it.each([
    ['{"resourceType":"Patient","__proto__":{"x":1}}', 'Patient.__proto__'],
    ['{"resourceType":"Patient","constructor":{"meta":"x"}}', 'Patient.constructor'],
    ['{"resourceType":"Binary","contentType":"text/plain","toString":"x"}', 'Binary.toString'],
    ['{"resourceType":"Patient","name":[{"family":"a","hasOwnProperty":1}]}', 'Patient.name[0].hasOwnProperty'],
  ])('are no elements: %s', async (body, location) => {
    const res = await post(JSON.parse(body).resourceType, body);
    expectOutcome(res, 400, /is not an element/);
    expect(res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(location);
  });
});

describe('strings that are not Unicode text', () => {
  it.each([
    ['a lone surrogate in a name', { resourceType: 'Patient', name: [{ family: '\ud800' }] }, 'Patient.name[0].family'],
    ['a NUL as an extension url', { resourceType: 'Patient', extension: [{ url: '\u0000', valueString: 'x' }] }, 'Patient.extension[0].url'],
    ['a NUL in a uri', { resourceType: 'Patient', identifier: [{ system: 'urn:a\u0000', value: 'x' }] }, 'Patient.identifier[0].system'],
    ['a lone low surrogate in a contained resource', { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o', name: 'a\udc00b' }] }, 'Patient.contained[0].name'],
    ['a lone surrogate in a key', { resourceType: 'Patient', ['\ud800x']: 1 }, 'Patient'],
  ])('are refused at the door: %s', async (_what, body, location) => {
    const res = await post('Patient', body);
    expectOutcome(res, 400, /surrogate|NUL/);
    expect(res.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? [])).toContain(location);
  });

  it('never reach storage, so _text search keeps working', async () => {
    await post('Patient', { resourceType: 'Patient', name: [{ family: '\ud800' }] });
    const res = await request(kiln.server).get('/fhir/Patient?_text=anything');
    expect(res.status).toBe(200);
    const content = await request(kiln.server).get('/fhir/Patient?_content=anything');
    expect(content.status).toBe(200);
  });
});

describe('JSON Patch paths', () => {
  it('moving an element into itself is 422', async () => {
    const created = (await post('Patient', { resourceType: 'Patient', name: [{ family: 'a' }] })).body;
    expectOutcome(await patch(`Patient/${created.id}`, [{ op: 'move', from: '/name', path: '/name/0' }]), 422, /move/);
  });

  it('replacing the whole document, then patching what is left, is 422', async () => {
    const created = (await post('Patient', { resourceType: 'Patient', name: [{ family: 'a' }] })).body;
    expectOutcome(await patch(`Patient/${created.id}`, [{ op: 'copy', from: '/name/-1', path: '' }, { op: 'add', path: '/x', value: [] }]), 422, /names no value/);
    expectOutcome(await patch(`Patient/${created.id}`, [{ op: 'replace', path: '', value: 'text' }, { op: 'add', path: '/x', value: [] }]), 422, /not a JSON object/);
    expectOutcome(await patch(`Patient/${created.id}`, [{ op: 'add', path: '/name/0/family/0', value: 'x' }]), 422);
  });

  it.each([
    [{ op: 'add', path: '/__proto__/polluted', value: 'yes' }],
    [{ op: 'add', path: '/constructor/prototype/polluted', value: 'yes' }],
    [{ op: 'copy', from: '/constructor', path: '/name' }],
    [{ op: 'replace', path: '/name/0/__proto__', value: {} }],
  ])('through the object prototype is 400: %j', async (op) => {
    const created = (await post('Patient', { resourceType: 'Patient', name: [{ family: 'a' }] })).body;
    expectOutcome(await patch(`Patient/${created.id}`, [op]), 400, /__proto__|constructor|prototype/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await request(kiln.server).get(`/fhir/Patient/${created.id}`)).body.meta.versionId).toBe('1');
  });
});

describe('a transaction with two creates sharing an ifNoneExist their resources do not meet', () => {
  it('makes one resource, as two creates by the same criteria do', async () => {
    const tag = uniqueId('dup');
    const entry = { resource: { resourceType: 'Patient', meta: { tag: [{ system: 'urn:kiln:test', code: tag }] } }, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=urn:none|${tag}` } };
    const res = await post('', { resourceType: 'Bundle', type: 'transaction', entry: [entry, entry] });
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: { response: { status: string } }) => e.response.status)).toEqual(['201 Created', '200 OK']);
    const [first, second] = res.body.entry.map((e: { response: { location: string } }) => e.response.location.split('/')[1]);
    expect(second).toBe(first);
    expect(await count('Patient', `_tag=urn:kiln:test|${tag}`)).toBe(1);
  });
});
