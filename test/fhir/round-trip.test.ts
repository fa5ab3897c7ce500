// Official-style R4 examples of the seven core types go in and come back unchanged but for meta.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { FHIR_JSON, startTestServer, type TestServer } from '../support/test-server.js';

const examples = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'examples');

let kiln: TestServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  kiln = await startTestServer();
  // The examples refer to one Practitioner and one Patient by placeholder; create those first.
  ids.practitioner = (await post(load('practitioner-1.json'))).body.id;
  ids.patient = (await post(load('patient-1.json'))).body.id;
});
afterAll(() => kiln.stop());

function load(file: string): Record<string, unknown> {
  const text = readFileSync(join(examples, file), 'utf8').replaceAll('{{patient}}', ids.patient ?? '').replaceAll('{{practitioner}}', ids.practitioner ?? '');
  return JSON.parse(text);
}

function post(resource: Record<string, unknown>) {
  return request(kiln.server).post(`/fhir/${resource.resourceType}`).set('Content-Type', FHIR_JSON).send(JSON.stringify(resource));
}

const files = readdirSync(examples).filter((f) => f.endsWith('.json')).sort();

describe('round trip of the core examples', () => {
  it('covers the seven core types', () => {
    const types = new Set(files.map((f) => JSON.parse(readFileSync(join(examples, f), 'utf8')).resourceType));
    expect([...types].sort()).toEqual(['Appointment', 'Claim', 'ImagingStudy', 'MedicationRequest', 'Observation', 'Patient', 'Practitioner']);
  });

  it.each(files)('%s is stored and read back unchanged apart from meta', async (file) => {
    const original = load(file);
    const created = await post(original);
    expect(created.status).toBe(201);
    const read = await request(kiln.server).get(`/fhir/${original.resourceType}/${created.body.id}`);
    expect(read.status).toBe(200);
    const { id, meta, ...rest } = read.body;
    const { meta: originalMeta, ...originalRest } = original as { meta?: Record<string, unknown> };
    expect(id).toBe(created.body.id);
    expect(rest).toEqual(originalRest);
    expect(meta.versionId).toBe('1');
    expect({ ...meta, versionId: undefined, lastUpdated: undefined }).toEqual({ ...(originalMeta ?? {}), versionId: undefined, lastUpdated: undefined });
  });
});
