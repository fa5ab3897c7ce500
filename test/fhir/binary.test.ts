// Binary served as raw content: hl7.org/fhir/R4/binary.html#rest
import request from 'supertest';
import { FHIR_JSON, json, startTestServer, type TestServer } from '../support/test-server.js';

let kiln: TestServer;
beforeAll(async () => {
  kiln = await startTestServer();
});
afterAll(() => kiln.stop());

const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

describe('Binary', () => {
  it('stores raw content and gives it back as it came, or as a Binary resource when FHIR JSON is asked', async () => {
    const created = await request(kiln.server).post('/fhir/Binary').set('Content-Type', 'image/png').send(png);
    expect(created.status).toBe(201);
    expect(created.body.resourceType).toBe('Binary');
    expect(created.body.contentType).toBe('image/png');
    const id = created.body.id;

    const raw = await request(kiln.server).get(`/fhir/Binary/${id}`).buffer(true).parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toBe('image/png');
    expect(Buffer.compare(raw.body as Buffer, png)).toBe(0);
    expect(raw.headers.etag).toBe('W/"1"');

    const resource = await request(kiln.server).get(`/fhir/Binary/${id}`).set('Accept', FHIR_JSON);
    expect(resource.body.resourceType).toBe('Binary');
    expect(Buffer.from(resource.body.data, 'base64')).toEqual(png);
  });

  it('accepts a Binary resource in FHIR JSON, and raw content on update', async () => {
    const created = await request(kiln.server)
      .post('/fhir/Binary')
      .set('Content-Type', FHIR_JSON)
      .send(json({ resourceType: 'Binary', contentType: 'text/plain', data: Buffer.from('hello').toString('base64') }));
    expect(created.status).toBe(201);
    const updated = await request(kiln.server).put(`/fhir/Binary/${created.body.id}`).set('Content-Type', 'text/plain').send('hello again');
    expect(updated.status).toBe(200);
    const raw = await request(kiln.server).get(`/fhir/Binary/${created.body.id}`);
    expect(raw.text).toBe('hello again');
    expect(raw.headers['content-type']).toContain('text/plain');
  });

  it('answers Accept naming the Binary\'s own content type with the raw content, and 406 for another (R4 binary.html#rest)', async () => {
    const created = await request(kiln.server).post('/fhir/Binary').set('Content-Type', 'text/csv').send('a,b\n1,2\n');
    expect(created.status).toBe(201);
    const raw = await request(kiln.server).get(`/fhir/Binary/${created.body.id}`).set('Accept', 'text/csv');
    expect([raw.status, raw.headers['content-type'], raw.text]).toEqual([200, expect.stringContaining('text/csv'), 'a,b\n1,2\n']);
    expect((await request(kiln.server).get(`/fhir/Binary/${created.body.id}/_history/1`).set('Accept', 'text/*')).text).toBe('a,b\n1,2\n');
    const other = await request(kiln.server).get(`/fhir/Binary/${created.body.id}`).set('Accept', 'image/png');
    expect([other.status, other.body.resourceType]).toEqual([406, 'OperationOutcome']);
    // Any other resource still answers only in JSON.
    expect((await request(kiln.server).get(`/fhir/Binary?_id=${created.body.id}`).set('Accept', 'text/csv')).status).toBe(406);
  });
});
